"""Parameter counts and architecture constraints."""
from __future__ import annotations

from .. import strategies as S
from ..compare import describe_type
from .base import CheckFailed, Param, Passed, check, search
from .objects import example_weights, make_mlp


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

