"""Optimisers against the reference's torch.optim.SGD semantics: weight decay is added to the gradient,
then momentum (v = momentum v + g; v = g at the first step), then p -= lr v."""
from __future__ import annotations

import numpy as np

from ..compare import mismatch
from .base import CheckFailed, Param, Passed, check
from .objects import bare_sequential

SETTINGS = [{"lr": 0.1}, {"lr": 0.05, "momentum": 0.9}, {"lr": 0.1, "weight_decay": 0.01},
            {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.05}]


ARCHITECTURE = [("Linear", (3, 4)), ("ReLU", ()), ("Linear", (4, 2))]


@check("sgd_step", settings=Param(list, SETTINGS), steps=Param(int, 4))
def sgd_step(ctx):
    """SGD(model, ...).step() over several steps, with the grader's gradients, against the reference."""
    for setting in ctx.params["settings"]:
        rng = np.random.default_rng(ctx.seed)
        models = {side: bare_sequential(handle, ARCHITECTURE, np.random.default_rng(ctx.seed + 1))
                  for side, handle in (("student", ctx.student), ("reference", ctx.reference))}
        layers = {side: m.get("layers") for side, m in models.items()}
        params = [layer.get("params") for layer in layers["reference"]]
        opts = {"student": ctx.student.new("SGD", models["student"], **setting),
                "reference": ctx.reference.new("SGD", models["reference"], **setting)}
        label = "SGD(model, " + ", ".join(f"{k}={v}" for k, v in setting.items()) + ")"
        for step in range(ctx.params["steps"]):
            grads = [{n: rng.standard_normal(v.shape) for n, v in values.items()} for values in params]
            for side in models:
                for layer, values in zip(layers[side], grads):
                    layer.set("grads", values)
                opts[side].call("step")
            for i, (s_layer, r_layer) in enumerate(zip(layers["student"], layers["reference"])):
                expected = r_layer.get("params")
                got = s_layer.get("params")
                for name in expected:
                    problem = mismatch(f"layers[{i}].params[{name!r}] after step {step + 1} of {label}",
                                       got.get(name) if isinstance(got, dict) else got, expected[name],
                                       rtol=1e-9, atol=1e-12)
                    if problem:
                        if "momentum" in setting and step > 0:
                            problem += ("\n  With momentum: v = momentum * v + (grad + weight_decay * p), "
                                        "p -= lr * v, and v = grad + weight_decay * p at the first step.")
                        elif "weight_decay" in setting:
                            problem += "\n  Weight decay adds weight_decay * p to the gradient before the step."
                        raise CheckFailed(problem)
    return Passed(f"SGD.step matches torch.optim.SGD over {ctx.params['steps']} steps for "
                  f"{len(ctx.params['settings'])} settings")
