"""Values against the reference (float64): a method on drawn inputs, the MLP forward cache, the SGD step."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

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
        x, _ = S.mlp_batch(example, S.rng_for(example, "inputs"))
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
        rng = S.rng_for(example, "gradients")
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


@check("function_values", function=Param(str), inputs=Param(str, choices=tuple(S.FUNCTION_INPUTS)),
       examples=Param(int, 40), exact=Param(bool, True, help="integers and tuples compared exactly"))
def function_values(ctx):
    """A module-level function on drawn arguments against the reference."""
    p = ctx.params
    strategy, make_args = S.FUNCTION_INPUTS[p["inputs"]]

    def test(example):
        args, kwargs = make_args(example)
        expected = ctx.reference.module.call(p["function"], *args, **kwargs)
        got = ctx.student.module.call(p["function"], *args, **kwargs)
        call = f"{p['function']}({', '.join([*map(repr, args), *(f'{k}={v!r}' for k, v in kwargs.items())])})"
        if p["exact"]:
            normal = tuple(got) if isinstance(got, list) else got
            if isinstance(normal, tuple) and all(isinstance(v, np.ndarray) and v.ndim == 0 for v in normal):
                normal = tuple(v.item() for v in normal)
            if normal != expected or type(normal) is not type(expected) and not (
                    isinstance(normal, int) and isinstance(expected, int)):
                raise CheckFailed(f"{call} returned {got!r}; expected {expected!r}")
        else:
            problem = mismatch(call, got, expected, rtol=1e-9, atol=1e-12)
            if problem:
                raise CheckFailed(problem)

    search(strategy, test, examples=p["examples"])
    return Passed(f"{p['function']} is right on {p['examples']} drawn arguments")


@check("softmax_cross_entropy", cls=Param(str, "SoftmaxCrossEntropy"), examples=Param(int, 25),
       scale=Param(float, 3.0, help="logits ~ N(0, scale^2); use 1000 to test stability"))
def softmax_cross_entropy(ctx):
    """forward(logits, labels) -> mean loss (a float), backward() -> dL/dlogits, against the reference."""
    p = ctx.params
    strategy = st.fixed_dictionaries({"batch": st.integers(1, 6), "classes": st.integers(2, 6), "seed": S.SEEDS})

    def test(example):
        rng = S.rng_for(example)
        logits = rng.standard_normal((example["batch"], example["classes"])) * p["scale"]
        labels = rng.integers(0, example["classes"], example["batch"])
        reference, student = ctx.reference.new(p["cls"]), ctx.student.new(p["cls"])
        expected = reference.call("forward", logits, labels)
        got = student.call("forward", logits, labels)
        value = _scalar(got)
        if value is None:
            raise CheckFailed(f"{p['cls']}.forward should return a float, but it returned {describe_type(got)}")
        hint = "\n  Hint: subtract each row's maximum before exponentiating (log-sum-exp)."
        problem = mismatch(f"{p['cls']}.forward(logits, labels)", value, expected, rtol=1e-6, atol=1e-9,
                           batch=example["batch"])
        if problem:
            raise CheckFailed(problem + (hint if "NaN" in problem or "infinity" in problem else ""))
        grad = student.call("backward")
        rtol, atol = tolerances(getattr(grad, "dtype", None), 1e-6, 1e-9)
        problem = mismatch(f"{p['cls']}.backward()", grad, reference.call("backward"), rtol=rtol, atol=atol,
                           batch=example["batch"])
        if problem:
            raise CheckFailed(problem + (hint if "NaN" in problem or "infinity" in problem else ""))

    search(strategy, test, examples=p["examples"])
    return Passed(f"{p['cls']} loss and gradient match the reference on {p['examples']} drawn batches "
                  f"(logits of scale {p['scale']:g})")
