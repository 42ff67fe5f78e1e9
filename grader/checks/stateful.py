"""Layers whose output depends on more than their input: dropout (random) and batch norm (running
statistics, train vs eval). Verdicts stay deterministic: the layer's rng is seeded by the grader."""
from __future__ import annotations

import math

import numpy as np

from ..compare import as_array, describe_type, mismatch
from .base import CheckFailed, Param, Passed, check


@check("dropout", cls=Param(str, "Dropout"), rates=Param(list, [0.1, 0.5, 0.8]), shape=Param(list, [200, 100]),
       z=Param(float, 5.0, help="half-width of the binomial interval, in standard deviations"))
def dropout(ctx):
    """Identity in eval; in training the kept fraction lies in a binomial interval around 1 - p, kept
    entries are scaled by 1/(1-p), and backward uses the forward's mask."""
    p = ctx.params
    shape = tuple(p["shape"])
    n = int(np.prod(shape))
    x = np.random.default_rng(ctx.seed).uniform(0.5, 1.5, shape)
    for rate in p["rates"]:
        layer = ctx.student.new(p["cls"], rate, rng=ctx.student.rng(ctx.seed))
        label = f"{p['cls']}(p={rate})"
        out = as_array(layer.call("forward", x))
        if out is None or out.shape != shape:
            raise CheckFailed(f"{label}.forward(x) should return shape {shape}, got {describe_type(out)}")
        kept = out != 0
        fraction = kept.mean()
        sd = math.sqrt((1 - rate) * rate / n)
        if abs(fraction - (1 - rate)) > p["z"] * sd:
            raise CheckFailed(f"{label} in training kept {fraction:.4f} of {n} entries; expected 1 - p = {1 - rate:g} "
                              f"(within {p['z'] * sd:.4f}). Is p the probability of dropping, not of keeping?")
        scale = out[kept] / x[kept]
        if not np.allclose(scale, 1 / (1 - rate), rtol=1e-6):
            hint = " (no rescaling: multiply kept entries by 1/(1-p))" if np.allclose(scale, 1) else ""
            raise CheckFailed(f"{label} in training scales kept entries by {np.median(scale):.4g}; expected "
                              f"1/(1-p) = {1 / (1 - rate):.4g}{hint}")
        g = np.random.default_rng(ctx.seed + 1).standard_normal(shape)
        dx = layer.call("backward", g)
        problem = mismatch(f"{label}.backward(g)", dx, g * out / x, rtol=1e-6, atol=1e-12)
        if problem:
            raise CheckFailed(problem + "\n  backward must use the mask (and scale) of the latest forward.")
        layer.call("eval")
        problem = mismatch(f"{label}.forward(x) in eval mode", layer.call("forward", x), x, rtol=0, atol=0)
        if problem:
            raise CheckFailed(problem + "\n  In eval mode dropout is the identity.")
    return Passed(f"{p['cls']} drops and rescales correctly for p in {p['rates']} and is the identity in eval")


@check("batchnorm_running_stats", cls=Param(str, "BatchNorm1d"), steps=Param(int, 4),
       configs=Param(list, [{"num_features": 3}, {"num_features": 5, "momentum": 0.3, "eps": 1e-3}]))
def batchnorm_running_stats(ctx):
    """running_mean and running_var after several training steps, as torch (unbiased variance), then
    the eval-mode output, which uses them."""
    rng = np.random.default_rng(ctx.seed)
    for config in ctx.params["configs"]:
        student = ctx.student.new(ctx.params["cls"], **config)
        reference = ctx.reference.new(ctx.params["cls"], **config)
        label = f"{ctx.params['cls']}({', '.join(f'{k}={v!r}' for k, v in config.items())})"
        d = config["num_features"]
        for step in range(ctx.params["steps"]):
            x = rng.standard_normal((4 + step, d)) * rng.uniform(0.5, 3, d) + rng.uniform(-2, 2, d)
            student.call("forward", x)
            reference.call("forward", x)
            for name in ("running_mean", "running_var"):
                problem = mismatch(f"{label}.{name} after {step + 1} training step(s)", student.get(name),
                                   reference.get(name), rtol=1e-6, atol=1e-9)
                if problem:
                    if name == "running_var":
                        problem += ("\n  The running variance uses the unbiased batch variance (divide by N - 1); "
                                    "normalisation uses the biased one.")
                    raise CheckFailed(problem)
        student.call("eval")
        reference.call("eval")
        x = rng.standard_normal((3, d))
        problem = mismatch(f"{label}.forward(x) in eval mode", student.call("forward", x),
                           reference.call("forward", x), rtol=1e-6, atol=1e-9)
        if problem:
            raise CheckFailed(problem + "\n  In eval mode, normalise with the running statistics.")
    return Passed("running statistics and eval mode match torch's semantics")


@check("container_modes", container=Param(str, "Sequential"), predictor=Param(str, "predict"),
       features=Param(int, 12), hidden=Param(int, 32), classes=Param(int, 10), n=Param(int, 300),
       rate=Param(float, 0.5))
def container_modes(ctx):
    """container(Linear, ReLU, Dropout, Linear): eval() and train() reach every layer, and
    predictor(model, X) runs the model in eval mode (dropout off), whatever mode it was left in: its
    labels are the reference predictor's on the same layers and weights."""
    p = ctx.params
    rng = np.random.default_rng(ctx.seed)
    weights = [{"W": rng.standard_normal((p["features"], p["hidden"])) / math.sqrt(p["features"]),
                "b": rng.standard_normal(p["hidden"]) * 0.1},
               {"W": rng.standard_normal((p["hidden"], p["classes"])) / math.sqrt(p["hidden"]),
                "b": rng.standard_normal(p["classes"]) * 0.1}]
    X = rng.standard_normal((p["n"], p["features"]))
    label = f"{p['container']}(Linear, ReLU, Dropout(p={p['rate']:g}), Linear)"

    def build(handle):
        # Seeded, so that the reference's objects are the same on every run (the kit replays them).
        linears = [handle.new("Linear", p["features"], p["hidden"], rng=handle.rng(ctx.seed + 2)),
                   handle.new("Linear", p["hidden"], p["classes"], rng=handle.rng(ctx.seed + 3))]
        for layer, values in zip(linears, weights):
            for name, value in values.items():
                layer.set("params", value, key=name)
        layers = [linears[0], handle.new("ReLU"), handle.new("Dropout", p["rate"], rng=handle.rng(ctx.seed + 1)),
                  linears[1]]
        return handle.new(p["container"], *layers), layers

    model, layers = build(ctx.student)
    held = model.get("layers")  # the container's own layers (it may have copied those it was given)
    if isinstance(held, (list, tuple)) and len(held) == len(layers):
        layers = list(held)
    names = ["Linear", "ReLU", "Dropout", "Linear"]
    for mode, flag in (("eval", False), ("train", True)):
        model.call(mode)
        wrong = [f"{name} (layer {i})" for i, (name, layer) in enumerate(zip(names, layers))
                 if layer.get("training") is not flag]
        if wrong:
            raise CheckFailed(f"after {label}.{mode}(), {', '.join(wrong)} still has training = {not flag}: "
                              f"{p['container']}.{mode}() must call {mode}() on every layer")
    got = ctx.student.module.call(p["predictor"], model, X)  # the model was left in training mode
    reference, _ = build(ctx.reference)
    reference.call("train")
    expected = ctx.reference.module.call(p["predictor"], reference, X)
    # Labels, not values: a few may flip where float32 inside meets a near tie; dropout left on flips
    # about half of them.
    labels = as_array(got)
    close = labels is not None and labels.shape == np.shape(expected) and np.mean(labels != expected) <= 0.02
    problem = None if close else mismatch(f"{p['predictor']}(model, X) on a model left in training mode", got,
                                          expected, rtol=0, atol=0)
    if problem:
        if all(layer.get("training") for layer in layers):
            problem += (f"\n  Likely cause: {p['predictor']} runs the model with dropout on: put the model in eval mode "
                        "(model.eval()) before its forward passes")
        raise CheckFailed(problem)
    return Passed(f"{p['container']}'s train()/eval() reach every layer and {p['predictor']} runs in eval mode")
