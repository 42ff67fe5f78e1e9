"""Values against the reference (float64): a method on drawn inputs, the MLP forward cache, the SGD step."""
from __future__ import annotations

import numpy as np

from .. import strategies as S
from ..compare import as_array, describe_type, mismatch, tolerances
from .base import CheckFailed, Param, Passed, check, search
from .objects import example_weights, make_mlp, reference_mlp

_TINY = {"input_dim": 2, "hidden_dims": (2,), "n_classes": 2}


def _call_label(method: str, kwargs: dict) -> str:
    extra = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    return f"{method}(x{extra})" if method != "loss" else f"loss(prediction, labels{extra})"


def _scalar(value):
    arr = as_array(value)
    if arr is None or arr.size != 1:
        return None
    return arr.reshape(())


@check("method_values",
       method=Param(str, help="the NN method to call"),
       inputs=Param(str, choices=tuple(S.INPUTS), help="how the arguments are drawn"),
       variants=Param(list, [{}], help="keyword arguments to call with, one call per entry"),
       activations=Param(list, ["relu"], help="activation_str of the object the method is called on"),
       returns=Param(str, "array", choices=("array", "scalar")),
       examples=Param(int, 25), rtol=Param(float, 1e-6), atol=Param(float, 1e-9),
       nonfinite_message=Param(str, "", help="extra hint when the result holds NaN or inf"))
def method_values(ctx):
    """Calls `method` on the student's and the reference's object with the same drawn inputs."""
    p = ctx.params
    strategy, make_args = S.INPUTS[p["inputs"]]
    students = {a: make_mlp(ctx.student, {**_TINY, "activation": a}) for a in p["activations"]}
    references = {a: make_mlp(ctx.reference, {**_TINY, "activation": a}) for a in p["activations"]}

    def test(example):
        args, _ = make_args(example)
        for activation in p["activations"]:
            for variant in p["variants"]:
                expected = references[activation].call(p["method"], *args, **variant)
                got = students[activation].call(p["method"], *args, **variant)
                label = _call_label(p["method"], variant)
                if len(p["activations"]) > 1:
                    label = f"{label} with activation={activation!r}"
                if p["returns"] == "scalar":
                    value = _scalar(got)
                    if value is None:
                        raise CheckFailed(f"{label} should return a float, but it returned {describe_type(got)}")
                    got = value
                rtol, atol = tolerances(getattr(got, "dtype", None), p["rtol"], p["atol"])
                problem = mismatch(label, got, expected, rtol=rtol, atol=atol,
                                   batch=args[0].shape[0] if args[0].ndim == 2 else None)
                if problem:
                    if p["nonfinite_message"] and ("NaN" in problem or "infinity" in problem):
                        problem += f"\n  Hint: {p['nonfinite_message']}"
                    raise CheckFailed(problem)

    search(strategy, test, examples=p["examples"])
    return Passed(f"{p['method']} matches the reference on {p['examples']} drawn inputs")


def _check_cache(cache, expected: dict, batch: int) -> list[str]:
    if not isinstance(cache, dict):
        return [f"forward(x) should return a dict (the cache), but it returned {describe_type(cache)}"]
    problems = []
    for key, value in expected.items():
        if key not in cache:
            problems.append(f"the cache has no key {key!r} (keys: {', '.join(map(str, cache))})")
            continue
        rtol, atol = tolerances(getattr(cache[key], "dtype", None), 1e-6, 1e-9)
        problem = mismatch(f'cache["{key}"]', cache[key], value, rtol=rtol, atol=atol, batch=batch)
        if problem:
            problems.append(problem)
    return problems


@check("mlp_forward",
       activations=Param(list, ["relu", "sigmoid", "tanh"], choices=("relu", "sigmoid", "tanh")),
       examples=Param(int, 30))
def mlp_forward(ctx):
    """forward(x): every Z{l} and A{l} of the cache against the reference, for drawn architectures."""
    p = ctx.params

    def test(example):
        weights = example_weights(example)
        x, _ = S.mlp_batch(example, S.rng_for(example))
        expected = reference_mlp(ctx, example, weights).call("forward", x)
        cache = make_mlp(ctx.student, example, weights=weights).call("forward", x)
        problems = _check_cache(cache, expected, example["batch"])
        if problems:
            raise CheckFailed("\n".join(problems))

    search(S.mlp_examples(p["activations"]), test, examples=p["examples"])
    return Passed(f"forward matches the reference on {p['examples']} drawn architectures and batches")


@check("mlp_update", examples=Param(int, 15))
def mlp_update(ctx):
    """update(grads): W{l} -= lr dW{l} and b{l} -= lr db{l}, exactly, ignoring extra keys of grads."""
    p = ctx.params
    strategy = S.mlp_examples(["relu"]).map(lambda e: {**e, "lr": [0.5, 0.1, 0.01][e["seed"] % 3]})

    def test(example):
        rng = S.rng_for(example)
        weights = example_weights(example)
        grads = {f"d{k}": rng.standard_normal(v.shape) for k, v in weights.items()}
        grads["dA1"] = rng.standard_normal((example["batch"], example["hidden_dims"][0]))
        nn = make_mlp(ctx.student, example, weights=weights, lr=example["lr"])
        nn.call("update", grads)
        after = nn.get("weights")
        if not isinstance(after, dict):
            raise CheckFailed(f"after update, self.weights is {describe_type(after)}, not a dict")
        problems = []
        for key, w in weights.items():
            expected = w - example["lr"] * grads[f"d{key}"]
            if key not in after:
                problems.append(f"after update, self.weights has no key {key!r}")
                continue
            problem = mismatch(f"{key} after update", after[key], expected, rtol=1e-10, atol=1e-12)
            if problem:
                got = as_array(after[key])
                if got is not None and got.shape == w.shape:
                    if np.allclose(got, w):
                        problem += f"\n  Likely cause: {key} did not change: update must modify self.weights."
                    elif np.allclose(got, w + example["lr"] * grads[f"d{key}"]):
                        problem += "\n  Likely cause: the step has the wrong sign: it must go against the gradient."
                problems.append(problem)
        if problems:
            raise CheckFailed("\n".join(problems))

    search(strategy, test, examples=p["examples"])
    return Passed(f"update performs the exact SGD step on {p['examples']} drawn examples")
