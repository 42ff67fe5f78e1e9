"""The grader's side of PyTorch solutions, without importing torch: tensors as `protocol.Tensor`,
and thin wrappers over the worker's torch operations (sandbox/torch_bridge.py).

Shapes in messages follow PyTorch: (N, C, H, W) for images, (N, K) for logits.
"""
from __future__ import annotations

import numpy as np

from ..compare import describe_type
from ..sandbox.protocol import Tensor
from .base import CheckFailed


def tensor(array, dtype: str = "float64", *, requires_grad: bool = False, device: str = "cpu") -> Tensor:
    """A tensor to send as an argument: the worker receives a torch tensor of this dtype and device."""
    return Tensor(np.array(array, order="C"), dtype, device, requires_grad)


def stored_tensor(handle, array, *, dtype: str = "float32", scale: float | None = None, device: str = "cpu"):
    """A tensor kept in the worker (training data, or a value whose later state matters): a handle."""
    return handle.op("tensor", value=np.asarray(array), dtype=dtype, scale=scale, device=device)


def generator(handle, seed: int):
    """A torch.Generator seeded in the worker (generators cannot cross)."""
    return handle.op("generator", seed=int(seed))


def values_of(value, what: str, shape: tuple | None = None, *, allow_number: bool = False) -> np.ndarray:
    """The array of a returned tensor; CheckFailed naming `what` when it is not a tensor of `shape`."""
    if isinstance(value, Tensor):
        array = value.array
    elif allow_number and isinstance(value, (int, float)) and not isinstance(value, bool):
        array = np.asarray(float(value))
    else:
        raise CheckFailed(f"{what} should be a torch tensor{_shape_text(shape)}, but it is {describe_type(value)}")
    if shape is not None and tuple(array.shape) != tuple(shape):
        transposed = len(shape) == 2 and tuple(array.shape) == tuple(shape)[::-1]
        hint = " (it is transposed)" if transposed else ""
        raise CheckFailed(f"{what} has shape {tuple(array.shape)}, expected {tuple(shape)}{hint}")
    return np.asarray(array, dtype=np.float64) if array.dtype.kind in "biuf" else array


def _shape_text(shape) -> str:
    return f" of shape {tuple(shape)}" if shape is not None else ""


def describe(handle, model) -> dict:
    """The module tree: {"type", "modules": [{name, type, leaf, hyper, params, training}], "n_params",
    "n_trainable"}."""
    return handle.op("describe", target=model)


def state(handle, model) -> dict:
    """Parameters and buffers by name ("param:conv.weight", "buffer:bn.running_mean") as arrays."""
    return handle.op("state", target=model)


def trace(handle, model, x, *, train: bool = False) -> dict:
    """model(x) under no_grad in the given mode: {"output", "calls": [{name, type, hyper, input, output}]}."""
    return handle.op("trace", target=model, input=x, train=train)


def watch(handle, target, name: str, *args, model=None, **kwargs) -> dict:
    """target.name(*args, **kwargs) (target None: the module) -> {"value", "autograd_runs", "forwards"}."""
    return handle.op("watch", target=None if target is None else target.ref, name=name, args=list(args),
                     kwargs=kwargs, model=model)


def info(handle) -> dict:
    return handle.op("torch_info")


def pick_device(handle, policy: str) -> tuple[str, str]:
    """policy "auto": CUDA when the worker sees one, else the CPU -> (device, label for messages)."""
    if policy == "auto":
        about = info(handle)
        if about.get("cuda"):
            return "cuda", f"cuda ({about.get('device_name', 'GPU')})"
        if about.get("cuda_problem"):
            return "cpu", f"cpu (a CUDA device is present but unusable in the sandbox: {about['cuda_problem']})"
    return "cpu", "cpu"


PROBE = "probe"


def new_model(ctx, cls: str, kwargs: dict):
    """ctx.student's cls(**kwargs), seeded by the item so that every grading builds the same model.
    cls "probe": the grader's own small CNN (torch_bridge.ProbeNet), to check training code alone."""
    if cls == PROBE:
        return ctx.student.op("probe_model", kwargs=kwargs, seed=ctx.seed)
    ctx.student.op("seed", seed=ctx.seed)
    model = ctx.student.new(cls, **kwargs)
    if not hasattr(model, "ref") or model.ref is None:
        raise CheckFailed(f"{cls}({_kwargs_text(kwargs)}) should be an nn.Module, but it is {describe_type(model)}")
    return model


def _kwargs_text(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def label(cls: str, kwargs: dict) -> str:
    if cls == PROBE:
        return f"a small CNN of the grader's ({_kwargs_text(kwargs) or 'conv, ReLU, pool, linear'})"
    return f"{cls}({_kwargs_text(kwargs)})"


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def max_pool2(x: np.ndarray) -> np.ndarray:
    """x: (N, C, H, W) -> (N, C, H // 2, W // 2), 2x2 windows, stride 2."""
    n, c, h, w = x.shape
    x = x[:, :, :h - h % 2, :w - w % 2]
    return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy_from_logits(logits: np.ndarray, labels: np.ndarray) -> float:
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())
