"""PyTorch inside the worker: tensors to and from the protocol, and the operations the grader asks of
a PyTorch solution. Imported by the worker (or an in-process handle in tests) only for assignments
whose rubric says `framework: torch`; the grader's own process never imports this module.

Everything here runs beside the student's code, so nothing it returns is trusted for more than the
data it is: the grader judges structure, modes and accuracy from these descriptions and outputs.

Operations (added to the dispatcher, see dispatch.py):
    {"op": "torch_info"}                                   -> {"version", "cuda", "device_name"}
    {"op": "tensor", "value": ndarray, "dtype", "scale", "device", "requires_grad"} -> Ref (kept here)
    {"op": "generator", "seed": s}                         -> Ref to a seeded torch.Generator
    {"op": "seed", "seed": s}                              -> seeds torch, numpy and random
    {"op": "describe", "target": model}                    -> the module tree as data
    {"op": "state", "target": model}                       -> {name: array} of parameters and buffers
    {"op": "trace", "target": model, "input": x, "train": bool} -> every leaf module's call in order
    {"op": "watch", "target", "name", "args", "kwargs", "model"} -> the call's value and what it did
    {"op": "loader", "x", "y", "batch_size", "shuffle", "seed"} -> Ref to an in-memory batch loader
    {"op": "logits", "target": model, "x", "batch_size", "device"} -> (N, classes) float32, eval mode
    {"op": "optimizer_info", "target": optimizer, "model": model} -> its type and param groups
    {"op": "probe_model", "kwargs": {...}}                 -> Ref to a ProbeNet, seeded
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch
from torch import nn

from . import protocol

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
          "float64": torch.float64, "int32": torch.int32, "int64": torch.int64, "uint8": torch.uint8,
          "bool": torch.bool}
# Hyperparameters read from the module tree: the grader judges them, so they are named explicitly.
HYPER = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
         "in_features", "out_features", "num_features", "eps", "momentum", "affine", "p", "inplace",
         "start_dim", "end_dim", "ceil_mode", "output_size")


def setup(threads: int = 1) -> None:
    """Deterministic PyTorch: the same submission trains to the same accuracy on the same device.

    On the CPU, one thread makes PyTorch's kernels deterministic. With CUDA, deterministic algorithms
    are asked for too (cuBLAS's workspace fixed by CUBLAS_WORKSPACE_CONFIG, cuDNN deterministic); an op
    without a deterministic CUDA kernel warns rather than failing the student's training (warn_only).
    The call is made only with CUDA: its first use costs 2 s of imports."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if cuda_available():
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # already set by an earlier parallel call
        pass
    # Warm the lazy imports an optimizer step and autograd need, while the Python tree is readable.
    layer = nn.Linear(2, 1)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    layer(torch.ones(1, 2)).sum().backward()
    opt.step()


def cuda_available() -> bool:
    try:
        return torch.cuda.is_available()
    except Exception:  # a broken driver is no GPU
        return False


def seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def from_torch(value):
    """A torch tensor -> protocol.Tensor; anything else -> None (the dispatcher stores it)."""
    if not isinstance(value, torch.Tensor):
        return None
    t = value.detach()
    if t.dtype == torch.bfloat16:
        t = t.float()
    if t.is_complex() or t.layout != torch.strided:
        return protocol.Opaque(type(value).__name__, f"tensor of dtype {t.dtype} and layout {t.layout}")
    array = t.to("cpu").contiguous().numpy()
    grad_fn = type(value.grad_fn).__name__ if value.grad_fn is not None else None
    return protocol.Tensor(array, str(value.dtype).removeprefix("torch."), str(value.device),
                           bool(value.requires_grad), grad_fn)


def device_for(name: str) -> torch.device:
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("the grader asked for a CUDA tensor but this machine has no CUDA device")
    return torch.device(name)


def to_torch(value: protocol.Tensor) -> torch.Tensor:
    array = np.asarray(value.array)
    t = torch.from_numpy(array if array.flags.writeable else array.copy())
    if value.dtype:
        if value.dtype not in DTYPES:
            raise protocol.ProtocolError(f"tensor dtype {value.dtype!r} is not allowed")
        t = t.to(DTYPES[value.dtype])
    t = t.to(device_for(value.device or "cpu"))
    if value.requires_grad:
        t.requires_grad_(True)
    return t


class BatchLoader:
    """Batches of tensors already in memory (on the training device): `for x, y in loader`.
    `len(loader)` is the number of batches and `len(loader.dataset)` the number of examples, as
    with a DataLoader; shuffling uses a generator seeded by the grader, so epochs are reproducible."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool, seed: int):
        self.dataset = torch.utils.data.TensorDataset(x, y)
        self.x, self.y, self.batch_size, self.shuffle = x, y, int(batch_size), bool(shuffle)
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return (len(self.x) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n = len(self.x)
        order = torch.randperm(n, generator=self.generator).to(self.x.device) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                yield self.x[start:start + self.batch_size], self.y[start:start + self.batch_size]
            else:
                index = order[start:start + self.batch_size]
                yield self.x[index], self.y[index]


class ProbeNet(nn.Module):
    """The grader's own small CNN for checks of training code, so that a broken LeNet5 does not cost
    the items on make_optimizer, train_epoch and evaluate. (N, C, 28, 28) -> logits (N, K)."""

    def __init__(self, in_channels=1, num_classes=10, batchnorm=False, dropout=0.0):
        super().__init__()
        layers = [nn.Conv2d(in_channels, 4, 3, padding=1)] + ([nn.BatchNorm2d(4)] if batchnorm else [])
        layers += [nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(), nn.Linear(4 * 7 * 7, 16), nn.ReLU()]
        layers += [nn.Dropout(dropout)] if dropout > 0 else []
        self.net = nn.Sequential(*layers, nn.Linear(16, num_classes))

    def forward(self, x):
        return self.net(x)


def _hyper(module: nn.Module) -> dict:
    out = {}
    for name in HYPER:
        if hasattr(module, name):
            value = getattr(module, name)
            if isinstance(value, (int, float, bool, tuple, list, str)) or value is None:
                out[name] = list(value) if isinstance(value, tuple) else value
    return out


def describe(model: nn.Module) -> dict:
    """The module tree as data: every module with its type, hyperparameters and own parameters."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    modules = []
    for name, module in model.named_modules():
        params = {n: {"shape": list(p.shape), "requires_grad": bool(p.requires_grad)}
                  for n, p in module.named_parameters(recurse=False)}
        modules.append({"name": name, "type": type(module).__name__, "leaf": not any(True for _ in module.children()),
                        "hyper": _hyper(module), "params": params, "training": bool(module.training)})
    return {"type": type(model).__name__, "modules": modules,
            "n_params": sum(p.numel() for p in model.parameters()),
            "n_trainable": sum(p.numel() for p in model.parameters() if p.requires_grad)}


def state(model: nn.Module) -> dict:
    out = {f"param:{n}": p for n, p in model.named_parameters()}
    out.update({f"buffer:{n}": b for n, b in model.named_buffers()})
    return {k: from_torch(v).array.copy() for k, v in out.items()}


def trace(model: nn.Module, x: torch.Tensor, train: bool) -> dict:
    """Calls model(x) in the given mode and records each leaf module's call: type, hyperparameters,
    first input and output (as arrays), in the order they ran."""
    calls, hooks = [], []

    def record(name):
        def hook(module, inputs, output):
            first = inputs[0] if inputs else None
            # Copies: a later in-place module (nn.ReLU(inplace=True)) must not rewrite what was recorded.
            calls.append({"name": name, "type": type(module).__name__, "hyper": _hyper(module),
                          "input": from_torch(first.clone()) if isinstance(first, torch.Tensor) else None,
                          "output": from_torch(output.clone()) if isinstance(output, torch.Tensor) else None})
        return hook

    for name, module in model.named_modules():
        if not any(True for _ in module.children()) and module is not model:
            hooks.append(module.register_forward_hook(record(name)))
    was_training = model.training
    model.train(train)
    try:
        with torch.no_grad():
            output = model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return {"output": output, "calls": calls}


class AutogradWatch:
    """Counts runs of the autograd engine while active. loss.backward(), torch.autograd.grad and
    torch.func all end in `Variable._execution_engine.run_backward`, which is wrapped here. With a
    `model`, also counts the runs that began while its parameters still held non-zero gradients (the
    previous batch's, when nothing cleared them)."""

    def __init__(self, model: nn.Module | None = None):
        self.count, self.stale, self.model = 0, 0, model

    def _has_gradients(self) -> bool:
        return self.model is not None and any(p.grad is not None and bool(torch.any(p.grad != 0))
                                              for p in self.model.parameters())

    def __enter__(self):
        from torch.autograd.variable import Variable
        self._owner, self._engine = Variable, Variable._execution_engine
        watch = self

        class CountingEngine:
            def run_backward(self, *args, **kwargs):
                watch.count += 1
                watch.stale += watch._has_gradients()
                return watch._engine.run_backward(*args, **kwargs)

            def __getattr__(self, name):
                return getattr(watch._engine, name)

        Variable._execution_engine = CountingEngine()
        return self

    def __exit__(self, *exc):
        self._owner._execution_engine = self._engine
        return False


def watch(fn, args, kwargs, model: nn.Module | None) -> dict:
    """Calls fn(*args, **kwargs) and reports how: autograd engine runs and, for `model`, the mode and
    grad state of each of its forward calls and the runs that began on its uncleared gradients."""
    forwards = []
    handles = []
    if isinstance(model, nn.Module):
        def pre(module, inputs):
            forwards.append({"training": bool(module.training), "grad_enabled": torch.is_grad_enabled()})
        handles.append(model.register_forward_pre_hook(pre))
    try:
        with AutogradWatch(model if isinstance(model, nn.Module) else None) as seen:
            value = fn(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return {"value": value, "autograd_runs": seen.count, "stale_gradient_runs": seen.stale, "forwards": forwards}


def logits(model: nn.Module, x: torch.Tensor, batch_size: int, device: str) -> np.ndarray:
    """model's outputs on x in eval mode, without gradients: (N, classes) float32 on the CPU."""
    model.eval()
    parts = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out = model(x[start:start + batch_size].to(device_for(device)))
            if not isinstance(out, torch.Tensor):
                raise TypeError(f"the model returned {type(out).__name__}, not a tensor of logits")
            parts.append(out.detach().float().cpu())
    return torch.cat(parts).numpy()


def optimizer_info(optimizer, model) -> dict:
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"expected a torch.optim optimizer, got {type(optimizer).__name__}")
    covered = {id(p) for g in optimizer.param_groups for p in g["params"]}
    model_params = list(model.parameters()) if isinstance(model, nn.Module) else []
    groups = [{k: v for k, v in g.items() if isinstance(v, (int, float, bool)) and not isinstance(v, torch.Tensor)}
              | {"n_params": len(g["params"])} for g in optimizer.param_groups]
    return {"type": type(optimizer).__name__, "groups": groups,
            "missing": sum(1 for p in model_params if id(p) not in covered), "n_model_params": len(model_params)}


def operations(dispatcher) -> dict:
    """The extra operations this bridge adds to a dispatcher: op name -> fn(request) -> value."""
    r = dispatcher.resolve

    def tensor(req):
        t = to_torch(protocol.Tensor(np.asarray(req["value"]), req.get("dtype") or "", "cpu"))
        if req.get("scale") is not None:
            t = t * req["scale"]
        t = t.to(device_for(req.get("device") or "cpu"))
        if req.get("requires_grad"):
            t.requires_grad_(True)
        return dispatcher.store(t)

    def generator(req):
        return dispatcher.store(torch.Generator().manual_seed(int(req["seed"])))

    def seed(req):
        seed_all(int(req["seed"]))

    def torch_info(req):
        # A device that is present but cannot be used from inside the sandbox (a driver refusing the
        # worker's limits, say) must not cost the student the gate: the grader then trains on the CPU.
        usable, problem = False, None
        if cuda_available():
            try:
                torch.zeros(1, device="cuda")
                usable = True
            except Exception as exc:
                problem = f"{type(exc).__name__}: {str(exc)[:200]}"
        return {"version": str(torch.__version__), "cuda": usable, "cuda_problem": problem,
                "device_name": torch.cuda.get_device_name(0) if usable else "cpu"}

    def loader(req):
        return dispatcher.store(BatchLoader(r(req["x"]), r(req["y"]), req["batch_size"], req.get("shuffle", False),
                                            int(req.get("seed", 0))))

    def probe_model(req):
        seed_all(int(req.get("seed", 0)))
        return dispatcher.store(ProbeNet(**req.get("kwargs", {})))

    return {
        "probe_model": probe_model, "torch_info": torch_info, "tensor": tensor, "generator": generator,
        "seed": seed, "loader": loader,
        "describe": lambda req: describe(r(req["target"])),
        "state": lambda req: state(r(req["target"])),
        "trace": lambda req: trace(r(req["target"]), r(req["input"]), bool(req.get("train", False))),
        "watch": lambda req: watch(getattr(r(req["target"]) if req.get("target") is not None else dispatcher.module,
                                           req["name"]), r(req.get("args", [])), r(req.get("kwargs", {})),
                                   r(req.get("model"))),
        "logits": lambda req: logits(r(req["target"]), r(req["x"]), int(req.get("batch_size", 1000)),
                                     req.get("device", "cpu")),
        "optimizer_info": lambda req: optimizer_info(r(req["target"]), r(req.get("model"))),
    }
