"""PyTorch models judged from data: output shapes, parameter counts, the module tree, the order of
operations seen in a forward pass, train vs eval behaviour and shift equivariance.

The structure checks never trust names: they read each leaf module's type and hyperparameters and
the values that flowed between consecutive modules (`trace`), and recompute in NumPy what should
connect them (ReLU, 2x2 max-pooling, flatten), so nn.ReLU and F.relu, nn.Sequential and attributes,
any naming, all pass alike.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..compare import mismatch
from .base import CheckFailed, Param, Passed, check, search
from .torchlib import describe, label, max_pool2, new_model, pick_device, relu, tensor, trace, values_of


def _input(seed: int, batch: int, shape) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, *shape)).astype(np.float32)


@check("torch_model_shapes",
       models=Param(list, help="[{cls, kwargs, input: [C, H, W], output: [K]}]"),
       examples=Param(int, 6), max_batch=Param(int, 9), devices=Param(str, "auto", choices=("auto", "cpu")))
def torch_model_shapes(ctx):
    """Each model maps (N, *input) to (N, *output) for batch sizes drawn by hypothesis, on the CPU and, when
    the worker sees one, on the GPU; the output holds logits (finite, rows not probabilities)."""
    device, device_label = pick_device(ctx.student, ctx.params["devices"])
    checked = []
    for spec in ctx.params["models"]:
        kwargs, name = spec.get("kwargs", {}), label(spec["cls"], spec.get("kwargs", {}))
        model = new_model(ctx, spec["cls"], kwargs)
        for dev in dict.fromkeys(["cpu", device]):
            if dev != "cpu":
                model.call("to", dev)

            def test(example, dev=dev, model=model, spec=spec, name=name):
                x = _input(example["seed"], example["N"], spec["input"])
                out = model.call("__call__", tensor(x, "float32", device=dev))
                got = values_of(out, f"{name} on an input of shape {x.shape}", (example["N"], *spec["output"]))
                if not np.all(np.isfinite(got)):
                    raise CheckFailed(f"{name}'s output on {dev} contains NaN or infinity")
                if got.ndim == 2 and got.shape[1] > 1 and np.all(got >= 0) and np.allclose(got.sum(1), 1, atol=1e-5):
                    raise CheckFailed(f"{name} returns probabilities (rows sum to 1); return the logits: "
                                      "nn.CrossEntropyLoss applies the softmax itself")

            search(st.fixed_dictionaries({"N": st.integers(1, ctx.params["max_batch"]),
                                          "seed": st.integers(0, 2**16)}), test, examples=ctx.params["examples"])
        checked.append(name)
    where = "the CPU" + (f" and {device_label}" if device != "cpu" else "")
    return Passed(f"output shapes right for drawn batch sizes on {where}: {', '.join(checked)}",
                  {"device": device_label})


@check("torch_parameter_counts", models=Param(list, help="[{cls, kwargs, parameters}]"),
       counter=Param(str, "count_parameters", help="the student's counting function; empty: none"))
def torch_parameter_counts(ctx):
    """The models' trainable parameter counts (read from the module tree) equal the assignment's figures,
    and the student's count_parameters agrees, counting only trainable entries."""
    lines = []
    for spec in ctx.params["models"]:
        kwargs = spec.get("kwargs", {})
        name = label(spec["cls"], kwargs)
        model = new_model(ctx, spec["cls"], kwargs)
        tree = describe(ctx.student, model)
        if tree["n_trainable"] != spec["parameters"]:
            raise CheckFailed(f"{name} has {tree['n_trainable']:,} trainable parameters, expected "
                              f"{spec['parameters']:,}.\n" + _layer_table(tree))
        counted = ctx.student.module.call(ctx.params["counter"], model) if ctx.params["counter"] else spec["parameters"]
        if counted != spec["parameters"] or isinstance(counted, bool):
            raise CheckFailed(f"{ctx.params['counter']}({name}) returned {counted!r}; the model has "
                              f"{spec['parameters']:,} trainable parameter entries (sum of p.numel())")
        lines.append(f"{name}: {spec['parameters']:,}")
    model.call("requires_grad_", False)
    frozen = ctx.student.module.call(ctx.params["counter"], model) if ctx.params["counter"] else 0
    if frozen != 0:
        raise CheckFailed(f"with every parameter frozen (requires_grad=False), {ctx.params['counter']} returned "
                          f"{frozen!r}; count only trainable parameters (p.requires_grad)")
    return Passed("parameter counts right: " + "; ".join(lines))


def _layer_table(tree: dict) -> str:
    rows = []
    for m in tree["modules"]:
        n = sum(int(np.prod(p["shape"])) for p in m["params"].values())
        if n:
            rows.append(f"  {m['name'] or '(model)'}: {m['type']} {n:,} parameters {_hyper_text(m['hyper'])}")
    return "Parameters by module:\n" + "\n".join(rows)


def _hyper_text(hyper: dict) -> str:
    keys = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "in_features", "out_features",
            "num_features")
    return ", ".join(f"{k}={hyper[k]}" for k in keys if k in hyper)


def _close(a, b) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-5)


def _pair(v):
    return list(v) if isinstance(v, (list, tuple)) else [v, v]


def _calls(traced: dict, types: tuple) -> list[dict]:
    return [c for c in traced["calls"] if c["type"] in types]


@check("lenet_structure", configs=Param(list, [{}, {"batchnorm": True}, {"dropout": 0.5},
                                               {"batchnorm": True, "dropout": 0.3}]),
       in_channels=Param(int, 1), num_classes=Param(int, 10))
def lenet_structure(ctx):
    """LeNet5's layers from a traced forward pass: conv 6@5x5 pad 2, conv 16@5x5, linear 400-120-84-K;
    what flows between them is ReLU then 2x2 max-pooling; batch norm, when on, takes the convolution's
    output (so it comes before the ReLU); dropout, when on, takes each hidden linear layer's ReLU output."""
    for config in ctx.params["configs"]:
        kwargs = {"in_channels": ctx.params["in_channels"], "num_classes": ctx.params["num_classes"], **config}
        name = label("LeNet5", kwargs)
        model = new_model(ctx, "LeNet5", kwargs)
        x = _input(ctx.seed, 3, (ctx.params["in_channels"], 28, 28))
        problems = _lenet_problems(ctx, model, x, kwargs, train=False)
        if not problems and kwargs.get("dropout", 0) > 0:
            problems = _dropout_problems(ctx, model, x, kwargs)
        if problems:
            raise CheckFailed(f"{name}: " + "\n  ".join(problems))
    return Passed("layers, hyperparameters and the order of ReLU, pooling, batch norm and dropout are right "
                  f"for {len(ctx.params['configs'])} configurations")


def _conv_problem(i: int, hyper: dict, c_in: int, c_out: int, pad: int) -> str | None:
    got = (hyper.get("in_channels"), hyper.get("out_channels"), _pair(hyper.get("kernel_size")),
           _pair(hyper.get("padding")), _pair(hyper.get("stride")))
    if got == (c_in, c_out, [5, 5], [pad, pad], [1, 1]):
        return None
    return (f"convolution {i + 1} should be Conv2d({c_in}, {c_out}, kernel_size=5, padding={pad}, stride=1), "
            f"got Conv2d({got[0]}, {got[1]}, kernel_size={got[2]}, padding={got[3]}, stride={got[4]})"
            + (". Without padding=2 the first convolution shrinks 28x28 to 24x24." if i == 0 and pad else ""))


def _lenet_problems(ctx, model, x, kwargs, train: bool) -> list[str]:
    expected_conv = [(kwargs["in_channels"], 6, 2), (6, 16, 0)]
    # The module tree first: a wrong convolution often makes the forward pass itself fail.
    convs_in_tree = [m for m in describe(ctx.student, model)["modules"] if m["type"] == "Conv2d"]
    if len(convs_in_tree) == 2:
        for i, (m, (c_in, c_out, pad)) in enumerate(zip(convs_in_tree, expected_conv)):
            problem = _conv_problem(i, m["hyper"], c_in, c_out, pad)
            if problem:
                return [problem]
    traced = trace(ctx.student, model, tensor(x, "float32"), train=train)
    convs, linears = _calls(traced, ("Conv2d",)), _calls(traced, ("Linear",))
    bns = _calls(traced, ("BatchNorm2d",))
    want_bn = bool(kwargs.get("batchnorm"))
    if len(convs) != 2 or len(linears) != 3:
        return [f"expected 2 Conv2d and 3 Linear calls in a forward pass, saw {len(convs)} and {len(linears)} "
                f"(calls in order: {', '.join(c['type'] for c in traced['calls'])})"]
    for i, (call, (c_in, c_out, pad)) in enumerate(zip(convs, expected_conv)):
        problem = _conv_problem(i, call["hyper"], c_in, c_out, pad)
        if problem:
            return [problem]
    widths = [(400, 120), (120, 84), (84, kwargs["num_classes"])]
    for i, (call, (n_in, n_out)) in enumerate(zip(linears, widths)):
        h = call["hyper"]
        if (h.get("in_features"), h.get("out_features")) != (n_in, n_out):
            return [f"linear layer {i + 1} should be Linear({n_in}, {n_out}), got "
                    f"Linear({h.get('in_features')}, {h.get('out_features')})"]
    if want_bn != bool(bns) or (bns and len(bns) != 2):
        return [f"expected {'a BatchNorm2d after each convolution' if want_bn else 'no batch norm'} "
                f"(batchnorm={want_bn}), saw {len(bns)} BatchNorm2d call(s)"]
    arrays = lambda call, key: values_of(call[key], f"{call['name']}'s {key}")  # noqa: E731
    for i, conv in enumerate(convs):
        conv_out = arrays(conv, "output")
        if want_bn:
            bn = bns[i]
            if not _close(arrays(bn, "input"), conv_out):
                hint = (" It receives ReLU's output: batch norm goes between the convolution and its ReLU."
                        if _close(arrays(bn, "input"), relu(conv_out)) else "")
                return [f"batch norm {i + 1} should take convolution {i + 1}'s output directly.{hint}"]
            conv_out = arrays(bn, "output")
        pooled = max_pool2(relu(conv_out))
        nxt = arrays(convs[1], "input") if i == 0 else arrays(linears[0], "input")
        if i == 1:
            pooled = pooled.reshape(len(pooled), -1)
        if not _close(nxt, pooled):
            where = "convolution 2" if i == 0 else "the first linear layer"
            return [f"{where} should receive 2x2 max-pooling of the ReLU of "
                    f"{'batch norm' if want_bn else 'convolution'} {i + 1}'s output"
                    f"{' (flattened)' if i == 1 else ''}, and it does not (missing ReLU or pooling, or other "
                    "layers in between?)"]
    if not train:
        for i in range(2):
            if not _close(arrays(linears[i + 1], "input"), relu(arrays(linears[i], "output"))):
                return [f"linear layer {i + 2} should receive the ReLU of linear layer {i + 1}'s output (in eval "
                        "mode, dropout is the identity)"]
        if not _close(values_of(traced["output"], "the output"), arrays(linears[2], "output")):
            return ["the model's output should be the last linear layer's output (logits, no softmax)"]
    return []


def _dropout_problems(ctx, model, x, kwargs) -> list[str]:
    """In train mode: dropout(p) after each hidden linear layer's ReLU, nowhere else. With nn.Dropout
    modules the trace shows where they sit; functional dropout (F.dropout) is judged by what the next
    linear layer receives: each entry either dropped (0) or the ReLU output scaled by 1/(1-p)."""
    p = kwargs["dropout"]
    traced = trace(ctx.student, model, tensor(x, "float32"), train=True)
    drops = [c for c in traced["calls"] if c["type"] in ("Dropout", "Dropout1d", "AlphaDropout")]
    linears = _calls(traced, ("Linear",))
    if len(linears) != 3:
        return [f"expected 3 Linear calls in a training forward pass, saw {len(linears)}"]
    if drops and len(drops) != 2:
        return [f"expected 2 Dropout({p}) calls in a training forward pass (after each hidden linear layer's "
                f"ReLU), saw {len(drops)}"]
    for i in range(2):
        lin_out = values_of(linears[i]["output"], "linear output")
        received = values_of(linears[i + 1]["input"], "linear input")
        if drops:
            drop = drops[i]
            if drop["hyper"].get("p") != p:
                return [f"dropout {i + 1} has p={drop['hyper'].get('p')}, expected p={p}"]
            drop_in = values_of(drop["input"], "dropout input")
            if not _close(drop_in, relu(lin_out)):
                hint = (" It receives the linear layer's output before the ReLU: put dropout after the ReLU."
                        if _close(drop_in, lin_out) else "")
                return [f"dropout {i + 1} should take the ReLU of hidden linear layer {i + 1}'s output.{hint}"]
            if not _close(received, values_of(drop["output"], "dropout")):
                return [f"linear layer {i + 2} should receive dropout {i + 1}'s output"]
            continue
        kept = received != 0
        expected = relu(lin_out) / (1 - p)
        dropped_share = 1 - kept.mean()
        if not _close(received[kept], expected[kept]) or dropped_share <= (relu(lin_out) == 0).mean():
            return [f"linear layer {i + 2} should receive dropout(p={p}) of the ReLU of linear layer {i + 1}'s "
                    "output in train mode (entries either 0 or scaled by 1/(1-p))"]
    return []


@check("train_eval_modes", cls=Param(str, "LeNet5"), dropout=Param(float, 0.5),
       input=Param(list, [1, 28, 28]))
def train_eval_modes(ctx):
    """With dropout, two train-mode forwards differ and two eval-mode forwards are equal; with batch
    norm, an example's eval-mode output does not depend on the rest of the batch (it does in train mode)."""
    x = _input(ctx.seed, 6, ctx.params["input"])
    cls = ctx.params["cls"]
    model = new_model(ctx, cls, {"dropout": ctx.params["dropout"]})
    name = label(cls, {"dropout": ctx.params["dropout"]})

    def run(inputs, train):
        model.call("train", train)
        return values_of(model.call("__call__", tensor(inputs, "float32")), f"{name}(x)")

    a, b = run(x, True), run(x, True)
    if _close(a, b):
        raise CheckFailed(f"two forward passes of {name} in train mode gave the same output: dropout is not "
                          "active in training (nn.Dropout, or F.dropout with training=self.training)")
    a, b = run(x, False), run(x, False)
    problem = mismatch(f"{name}(x) in eval mode, second call", b, a, rtol=0, atol=0)
    if problem:
        raise CheckFailed(problem + "\n  In eval mode dropout must be off: use nn.Dropout, or "
                          "F.dropout(x, p, training=self.training).")
    model = new_model(ctx, cls, {"batchnorm": True})
    name = label(cls, {"batchnorm": True})
    other = x.copy()
    other[1:] = _input(ctx.seed + 1, 5, ctx.params["input"])
    if _close(run(x, True)[0], run(other, True)[0]):
        raise CheckFailed(f"in train mode, {name}'s output for one example does not depend on the rest of the "
                          "batch: batch norm should normalise with the batch's statistics")
    problem = mismatch(f"{name} in eval mode: example 0's output with another batch", run(other, False)[0],
                       run(x, False)[0], rtol=1e-5, atol=1e-5)
    if problem:
        raise CheckFailed(problem + "\n  In eval mode batch norm uses its running statistics, so an example's "
                          "output cannot depend on the other examples of the batch.")
    return Passed("dropout is random in train mode and off in eval mode; batch norm uses batch statistics in "
                  "train mode and running statistics in eval mode")


@check("shift_equivariance", cls=Param(str, "LeNet5"), shift=Param(list, [2, 3]),
       input=Param(list, [1, 28, 28]))
def shift_equivariance(ctx):
    """The first convolution's feature map (before pooling) of a shifted image is the shifted feature map,
    away from the borders (seed 000's experiment)."""
    dy, dx = ctx.params["shift"]
    model = new_model(ctx, ctx.params["cls"], {})
    x = _input(ctx.seed, 2, ctx.params["input"])
    shifted = np.zeros_like(x)
    shifted[:, :, dy:, dx:] = x[:, :, :x.shape[2] - dy, :x.shape[3] - dx]
    maps = []
    for image in (x, shifted):
        convs = _calls(trace(ctx.student, model, tensor(image, "float32")), ("Conv2d",))
        if not convs:
            raise CheckFailed(f"{ctx.params['cls']}'s forward pass calls no nn.Conv2d")
        maps.append(values_of(convs[0]["output"], "the first convolution's output"))
    base, moved = maps
    if base.ndim != 4:
        raise CheckFailed(f"the first convolution's output should be (N, C, H, W), got shape {base.shape}")
    margin = 5
    h, w = base.shape[2:]
    inner = (slice(None), slice(None), slice(margin + dy, h - margin), slice(margin + dx, w - margin))
    source = (slice(None), slice(None), slice(margin, h - margin - dy), slice(margin, w - margin - dx))
    problem = mismatch(f"the feature map of the image shifted by ({dy}, {dx}), away from the borders",
                       moved[inner], base[source], rtol=1e-4, atol=1e-4)
    if problem:
        raise CheckFailed(problem + "\n  A convolution is shift-equivariant: shifting the input shifts its "
                          "feature map. Is the first layer a Conv2d applied to the image?")
    return Passed(f"shifting the input by ({dy}, {dx}) shifts the first convolution's feature map")


def mlp_count(width: int, depth: int, n_in: int, n_out: int) -> int:
    return (n_in + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * n_out


@check("param_matched_mlp", targets=Param(list, [{"n_params": 268800, "depth": 2},
                                                 {"n_params": 61706, "depth": 1},
                                                 {"n_params": 100000, "depth": 3}]),
       in_features=Param(int, 784), num_classes=Param(int, 10))
def param_matched_mlp(ctx):
    """ParamMatchedMLP(n_params, depth=d): d equal-width ReLU hidden layers whose parameter count is within
    one hidden unit's worth of the closest achievable count."""
    n_in, n_out = ctx.params["in_features"], ctx.params["num_classes"]
    for target in ctx.params["targets"]:
        n, depth = target["n_params"], target["depth"]
        name = label("ParamMatchedMLP", {"n_params": n, "depth": depth})
        best = min(range(1, 5000), key=lambda w: abs(mlp_count(w, depth, n_in, n_out) - n))
        model = new_model(ctx, "ParamMatchedMLP", {"n_params": n, "in_features": n_in, "num_classes": n_out,
                                                    "depth": depth})
        tree = describe(ctx.student, model)
        linears = [m for m in tree["modules"] if m["type"] == "Linear"]
        widths = [m["hyper"].get("out_features") for m in linears[:-1]]
        if len(linears) != depth + 1 or len(set(widths)) != 1:
            sizes = [(m["hyper"].get("in_features"), m["hyper"].get("out_features")) for m in linears]
            raise CheckFailed(f"{name} should have {depth} hidden Linear layers of one width and an output "
                              f"layer; its Linear layers (in, out) are {sizes}")
        count = tree["n_trainable"]
        unit = mlp_count(best + 1, depth, n_in, n_out) - mlp_count(best, depth, n_in, n_out)
        if abs(count - mlp_count(best, depth, n_in, n_out)) > unit:
            raise CheckFailed(f"{name} has {count:,} parameters (width {widths[0]}); the closest achievable to "
                              f"{n:,} is {mlp_count(best, depth, n_in, n_out):,} (width {best}), and one hidden "
                              f"unit is worth {unit:,} parameters")
        x = _input(ctx.seed, 2, (n_in,))
        traced = trace(ctx.student, model, tensor(x, "float32"))
        calls = _calls(traced, ("Linear",))
        for i in range(1, len(calls)):
            if not _close(values_of(calls[i]["input"], "input"), relu(values_of(calls[i - 1]["output"], "output"))):
                raise CheckFailed(f"{name}: linear layer {i + 1} should receive the ReLU of linear layer {i}'s "
                                  "output")
        if calls and not _close(values_of(traced["output"], "output"), values_of(calls[-1]["output"], "output")):
            raise CheckFailed(f"{name}: the output should be the last linear layer's logits")
    return Passed(f"widths and parameter counts within one hidden unit of {len(ctx.params['targets'])} targets")
