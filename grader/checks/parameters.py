"""Parameter counts and architecture constraints."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .. import strategies as S
from ..compare import describe_type
from .base import CheckFailed, Param, Passed, check, search
from .objects import bare_sequential, example_weights, make_mlp


def mlp_parameter_count(dims) -> int:
    return sum(dims[l - 1] * dims[l] + dims[l] for l in range(1, len(dims)))


@check("mlp_count_parameters", examples=Param(int, 20), max_width=Param(int, 600))
def mlp_count_parameters(ctx):
    """count_parameters() on drawn architectures, including wide ones, against the formula."""
    arch = S.mlp_architectures(max_input=ctx.params["max_width"], max_width=ctx.params["max_width"],
                               max_classes=20)

    def test(example):
        dims = S.mlp_dims(example)
        weights = example_weights({**example, "seed": 0})
        got = make_mlp(ctx.student, example, weights=weights).call("count_parameters")
        expected = mlp_parameter_count(dims)
        if not isinstance(got, int) or isinstance(got, bool):
            raise CheckFailed(f"count_parameters() should return an int, but it returned {describe_type(got)}")
        if got != expected:
            weights_only = sum(dims[l - 1] * dims[l] for l in range(1, len(dims)))
            hint = " (the biases are missing from the count)" if got == weights_only else ""
            raise CheckFailed(f"count_parameters() returned {got} for layer sizes {dims}; expected {expected}"
                              f" = sum of d[l-1] * d[l] + d[l]{hint}")

    search(arch, test, examples=ctx.params["examples"])
    return Passed(f"count_parameters is right on {ctx.params['examples']} drawn architectures")


@check("config_constraints",
       name=Param(str, "BEST_CONFIG"),
       input_dim=Param(int, 784), n_classes=Param(int, 10),
       min_parameters=Param(int, 500_000), max_parameters=Param(int, 1_000_000),
       max_epochs=Param(int, 10),
       activations=Param(list, ["relu", "sigmoid", "tanh"]))
def config_constraints(ctx):
    """The module-level configuration dict: keys, types, and the parameter budget of its network."""
    p = ctx.params
    config = ctx.student.module.get(p["name"])
    config_problems = validate_config(config, p)
    if config_problems:
        raise CheckFailed(f"{p['name']}: " + "; ".join(config_problems))
    dims = [p["input_dim"], *config["hidden_dims"], p["n_classes"]]
    count = mlp_parameter_count(dims)
    if not p["min_parameters"] <= count <= p["max_parameters"]:
        raise CheckFailed(f"{p['name']} gives layer sizes {dims} with {count:,} parameters; the network must "
                          f"have between {p['min_parameters']:,} and {p['max_parameters']:,}")
    return Passed(f"{p['name']}: {dims}, {count:,} parameters, {config['n_epochs']} epochs")


def validate_config(config, p) -> list[str]:
    if not isinstance(config, dict):
        return [f"should be a dict, but it is {describe_type(config)}"]
    problems = []
    missing = [k for k in ("hidden_dims", "activation", "lr", "batch_size", "n_epochs") if k not in config]
    if missing:
        return [f"missing key(s) {', '.join(missing)}"]
    hidden = config["hidden_dims"]
    if not isinstance(hidden, (list, tuple)) or not hidden or not all(
            isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden):
        problems.append(f"hidden_dims must be a tuple of positive ints, got {hidden!r}")
    if config["activation"] not in p["activations"]:
        problems.append(f"activation must be one of {p['activations']}, got {config['activation']!r}")
    lr = config["lr"]
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0:
        problems.append(f"lr must be a positive number, got {lr!r}")
    bs = config["batch_size"]
    if not isinstance(bs, int) or isinstance(bs, bool) or bs < 1:
        problems.append(f"batch_size must be a positive int, got {bs!r}")
    ne = config["n_epochs"]
    if not isinstance(ne, int) or isinstance(ne, bool) or not 1 <= ne <= p["max_epochs"]:
        problems.append(f"n_epochs must be an int from 1 to {p['max_epochs']}, got {ne!r}")
    return problems



# Networks from the seeds, built from the student's own classes: (description, layers, total).
SEED_NETWORKS = {
    "seed 002, questions 2-3: three 3x3 convolutions 3 -> 100 -> 200 -> 400": (
        [("Conv2d", (3, 100, 3)), ("Conv2d", (100, 200, 3)), ("Conv2d", (200, 400, 3))], 2_800 + 180_200 + 720_400),
    "seed 001, question 10: the CIFAR-10 network": (
        [("Conv2d", (3, 32, 5)), ("ReLU", ()), ("MaxPool2d", (2,)), ("Conv2d", (32, 64, 5)), ("ReLU", ()),
         ("MaxPool2d", (2,)), ("Conv2d", (64, 64, 5)), ("ReLU", ()), ("MaxPool2d", (2,)), ("Flatten", ()),
         ("Linear", (1024, 1000)), ("ReLU", ()), ("Linear", (1000, 10))],
        2_432 + 51_264 + 102_464 + 1_025_000 + 10_010),
}


@st.composite
def _stacks(draw):
    layers, total = [], 0
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            c_in, c_out, k = draw(st.integers(1, 8)), draw(st.integers(1, 8)), draw(st.integers(1, 5))
            layers.append(("Conv2d", (c_in, c_out, k)))
            total += c_in * c_out * k * k + c_out
        else:
            n_in, n_out = draw(st.integers(1, 50)), draw(st.integers(1, 50))
            layers.append(("Linear", (n_in, n_out)))
            total += n_in * n_out + n_out
        if draw(st.booleans()):
            layers.append((draw(st.sampled_from(["ReLU", "Flatten"])), ()))
    return {"layers": layers, "total": total}


@check("layer_count_parameters", function=Param(str, "count_parameters"), examples=Param(int, 15))
def layer_count_parameters(ctx):
    """count_parameters(model) on the seeds' networks (the correct counts, not the reports') and on drawn
    stacks of layers, all built from the student's own classes."""
    fn = ctx.params["function"]
    for description, (layers, total) in SEED_NETWORKS.items():
        got = ctx.student.module.call(fn, bare_sequential(ctx.student, layers))
        if got != total or isinstance(got, bool):
            raise CheckFailed(f"{fn}(model) returned {got!r} for {description}; expected {total:,}")

    def test(example):
        got = ctx.student.module.call(fn, bare_sequential(ctx.student, example["layers"]))
        if got != example["total"] or isinstance(got, bool):
            raise CheckFailed(f"{fn}(model) returned {got!r} for Sequential of {example['layers']}; "
                              f"expected {example['total']}")

    search(_stacks(), test, examples=ctx.params["examples"])
    return Passed(f"{fn} is right on the seeds' networks and {ctx.params['examples']} drawn stacks")


@check("convnet_architecture", builder=Param(str, "build_convnet"), input_shape=Param(list, [1, 28, 28]),
       n_classes=Param(int, 10), max_parameters=Param(int, 500_000),
       required=Param(list, ["Conv2d", "MaxPool2d"]))
def convnet_architecture(ctx):
    """The student's network: the required layer types, the parameter budget (counted by the grader
    from every layer's params) and the output shape."""
    p = ctx.params
    model = ctx.student.module.call(p["builder"], rng=ctx.student.rng(0))
    layers = model.get("layers")
    if not isinstance(layers, list):
        raise CheckFailed(f"{p['builder']}() should return a Sequential with a list `layers`, got {describe_type(layers)}")
    types = [getattr(layer, "type", type(layer).__name__) for layer in layers]
    missing = [t for t in p["required"] if t not in types]
    if missing:
        raise CheckFailed(f"{p['builder']}() has layers {types}; it needs at least one {' and one '.join(missing)}")
    count = 0
    for layer in layers:
        params = layer.get("params") if hasattr(layer, "get") else {}
        if isinstance(params, dict):
            count += sum(int(np.asarray(v).size) for v in params.values() if isinstance(v, np.ndarray))
    if count > p["max_parameters"]:
        raise CheckFailed(f"{p['builder']}() has {count:,} parameters; at most {p['max_parameters']:,} are allowed")
    x = np.random.default_rng(ctx.seed).uniform(0, 1, (2, *p["input_shape"])).astype(np.float32)
    out = model.call("forward", x)
    if not isinstance(out, np.ndarray) or out.shape != (2, p["n_classes"]):
        raise CheckFailed(f"{p['builder']}().forward(x) with x of shape {x.shape} should return logits of shape "
                          f"(2, {p['n_classes']}), got {describe_type(out)}")
    return Passed(f"{p['builder']}(): {' -> '.join(types)}; {count:,} parameters")
