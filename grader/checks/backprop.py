"""The `backprop` assignment: a one-hidden-layer tanh/softmax network by hand on PyTorch tensors.

Expectations are computed here in float64 NumPy (the grader does not import torch); the test suite
checks these formulas against torch.autograd. Inputs are float64 tensors, so finite differences
are exact enough to decide.

Shapes: X (N, nx), Wh (nh, nx), bh (nh,), Wy (ny, nh), by (ny,), Y (N, ny) one-hot.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..compare import describe_type, mismatch
from .base import CheckFailed, Param, Passed, check, search
from .gradients import fd_problems
from .torchlib import generator, stored_tensor, tensor, values_of, softmax

PARAMS = ("Wh", "bh", "Wy", "by")
OUTPUTS = ("X", "htilde", "h", "ytilde", "yhat")
SIZES = st.fixed_dictionaries({"N": st.integers(1, 8), "nx": st.integers(1, 6), "nh": st.integers(1, 8),
                               "ny": st.integers(2, 5), "seed": st.integers(0, 2**32 - 1)})


def shapes(nx: int, nh: int, ny: int) -> dict[str, tuple]:
    return {"Wh": (nh, nx), "bh": (nh,), "Wy": (ny, nh), "by": (ny,)}


def draw(example: dict, scale: float = 1.0):
    """Parameters, X and one-hot Y for an example of SIZES, in float64."""
    rng = np.random.default_rng(example["seed"])
    params = {k: rng.standard_normal(s) * scale for k, s in shapes(example["nx"], example["nh"], example["ny"]).items()}
    X = rng.standard_normal((example["N"], example["nx"]))
    Y = np.eye(example["ny"])[rng.integers(0, example["ny"], example["N"])]
    return params, X, Y


def forward(params: dict, X: np.ndarray) -> dict:
    htilde = X @ params["Wh"].T + params["bh"]
    h = np.tanh(htilde)
    ytilde = h @ params["Wy"].T + params["by"]
    return {"X": X, "htilde": htilde, "h": h, "ytilde": ytilde, "yhat": softmax(ytilde)}


def loss(params: dict, X: np.ndarray, Y: np.ndarray) -> float:
    yhat = forward(params, X)["yhat"]
    return float(-np.sum(Y * np.log(np.maximum(yhat, 1e-300))) / len(Y))


def gradients(params: dict, outputs: dict, Y: np.ndarray) -> dict:
    """The closed form of the mean cross-entropy's gradients (what torch.autograd gives)."""
    delta_y = (outputs["yhat"] - Y) / len(Y)
    delta_h = (delta_y @ params["Wy"]) * (1 - outputs["h"] ** 2)
    return {"Wh": delta_h.T @ outputs["X"], "bh": delta_h.sum(0), "Wy": delta_y.T @ outputs["h"],
            "by": delta_y.sum(0)}


def _as_tensors(values: dict) -> dict:
    return {k: tensor(v) for k, v in values.items()}


@check("backprop_init", sizes=Param(list, [40, 50, 30], help="nx, nh, ny"), std=Param(float, 0.3),
       alpha=Param(float, 1e-4, help="significance of the Kolmogorov-Smirnov test"))
def backprop_init(ctx):
    """init_params(nx, nh, ny, generator): shapes, floating dtype, N(0, std^2) entries (KS test on all of
    them pooled), and the generator decides the values (same seed, same values; another seed, others)."""
    from scipy import stats  # only where needed: the import costs time

    nx, nh, ny = ctx.params["sizes"]
    std = ctx.params["std"]
    call = f"init_params({nx}, {nh}, {ny}, generator=torch.Generator().manual_seed(s))"
    first = ctx.student.module.call("init_params", nx, nh, ny, generator=generator(ctx.student, ctx.seed))
    if not isinstance(first, dict):
        raise CheckFailed(f"{call} should return a dict of tensors, but it returned {describe_type(first)}")
    values = {}
    for name, shape in shapes(nx, nh, ny).items():
        if name not in first:
            raise CheckFailed(f"{call} has no key {name!r} (keys: {', '.join(map(str, first))})")
        values[name] = values_of(first[name], f"{call}[{name!r}]", shape)
        if first[name].dtype not in ("float32", "float64"):
            raise CheckFailed(f"{call}[{name!r}] has dtype {first[name].dtype}; use a floating dtype (float32)")
    pooled = np.concatenate([v.ravel() for v in values.values()])
    result = stats.kstest(pooled / std, "norm")
    if result.pvalue < ctx.params["alpha"]:
        sd = pooled.std()
        hint = (f" Their standard deviation is {sd:.3f}, expected {std}: scale N(0, 1) draws by {std}."
                if abs(sd - std) > 0.05 * std else "")
        raise CheckFailed(f"the {pooled.size} entries of {call} do not look drawn from N(0, {std}^2) "
                          f"(Kolmogorov-Smirnov p = {result.pvalue:.2g}).{hint}")
    again = ctx.student.module.call("init_params", nx, nh, ny, generator=generator(ctx.student, ctx.seed))
    other = ctx.student.module.call("init_params", nx, nh, ny, generator=generator(ctx.student, ctx.seed + 1))
    try:
        same = all(np.array_equal(values_of(again[k], k), values[k]) for k in PARAMS)
        differ = any(not np.array_equal(values_of(other[k], k), values[k]) for k in PARAMS)
    except (CheckFailed, KeyError, TypeError):
        same = differ = False
    if not (same and differ):
        raise CheckFailed(f"{call} must draw with the generator it is given: the same seed must give the same "
                          "values and another seed other values (pass generator=generator to torch.randn)")
    return Passed(f"shapes, dtype and N(0, {std}^2) statistics of {pooled.size} entries (KS p = "
                  f"{result.pvalue:.2g}); the generator decides the values")


@check("backprop_forward", examples=Param(int, 25))
def backprop_forward(ctx):
    """forward(params, X) -> (yhat, outputs): every value against the formulas, on drawn sizes; yhat's
    rows sum to 1; and the softmax stays finite for large scores."""
    def test(example):
        params, X, _ = draw(example)
        expected = forward(params, X)
        out = ctx.student.module.call("forward", _as_tensors(params), tensor(X))
        if not isinstance(out, tuple) or len(out) != 2:
            raise CheckFailed(f"forward should return a pair (yhat, outputs), but it returned {describe_type(out)}")
        yhat, outputs = out
        N, ny = X.shape[0], params["by"].shape[0]
        got = values_of(yhat, "yhat", (N, ny))
        sums = got.sum(axis=1)
        if not np.allclose(sums, 1, atol=1e-6):
            along = got.sum(axis=0)
            hint = (" The columns sum to 1 instead: take the softmax over dim=1 (the classes), not dim=0."
                    if np.allclose(along, 1, atol=1e-6) else "")
            raise CheckFailed(f"the rows of yhat should sum to 1, but they sum to {np.round(sums, 4)}.{hint}")
        problem = mismatch("yhat", got, expected["yhat"], rtol=1e-6, atol=1e-9)
        if problem:
            raise CheckFailed(problem)
        if not isinstance(outputs, dict):
            raise CheckFailed(f"outputs should be a dict, but it is {describe_type(outputs)}")
        for key in OUTPUTS:
            if key not in outputs:
                raise CheckFailed(f"outputs has no key {key!r} (keys: {', '.join(map(str, outputs))})")
            problem = mismatch(f"outputs[{key!r}]", values_of(outputs[key], f"outputs[{key!r}]"), expected[key],
                               rtol=1e-6, atol=1e-9)
            if problem:
                raise CheckFailed(problem)

    search(SIZES, test, examples=ctx.params["examples"])
    params, X, _ = draw({"N": 3, "nx": 2, "nh": 3, "ny": 3, "seed": ctx.seed})
    params["by"] = np.array([800.0, 0.0, -5.0])
    yhat, _ = ctx.student.module.call("forward", _as_tensors(params), tensor(X))
    got = values_of(yhat, "yhat", (3, 3))
    if not np.all(np.isfinite(got)):
        raise CheckFailed("with scores around 800, yhat contains NaN or infinity: subtract each row's maximum "
                          "before exponentiating (or use torch.softmax)")
    return Passed(f"yhat and every intermediate value match on {ctx.params['examples']} drawn sizes; the softmax "
                  "is stable for large scores")


@check("backprop_loss", examples=Param(int, 25))
def backprop_loss(ctx):
    """loss_accuracy(yhat, Y) -> (mean cross-entropy as a 0-d tensor, accuracy as a Python float)."""
    def test(example):
        params, X, Y = draw(example, scale=2.0)
        yhat = forward(params, X)["yhat"]
        out = ctx.student.module.call("loss_accuracy", tensor(yhat), tensor(Y))
        if not isinstance(out, tuple) or len(out) != 2:
            raise CheckFailed(f"loss_accuracy should return a pair (L, acc), but it returned {describe_type(out)}")
        L, acc = out
        value = values_of(L, "L")
        if value.shape != ():
            raise CheckFailed(f"L should be a 0-d tensor (the mean over the batch), but it has shape {value.shape}")
        expected = float(-np.sum(Y * np.log(yhat)) / len(Y))
        problem = mismatch("L", value, np.asarray(expected), rtol=1e-6, atol=1e-9, batch=len(Y))
        if problem:
            raise CheckFailed(problem)
        if not isinstance(acc, float):
            raise CheckFailed(f"acc should be a Python float in [0, 1] (use .item()), but it is {describe_type(acc)}")
        expected_acc = float(np.mean(yhat.argmax(1) == Y.argmax(1)))
        if abs(acc - expected_acc) > 1e-6:  # a float32 mean is fine
            raise CheckFailed(f"acc is {acc:.6g}, expected {expected_acc:.6g}: the fraction of rows whose largest "
                              "yhat is the true class")

    search(SIZES, test, examples=ctx.params["examples"])
    return Passed(f"the loss and accuracy match on {ctx.params['examples']} drawn batches")


@check("backprop_backward", examples=Param(int, 15))
def backprop_backward(ctx):
    """backward(params, outputs, Y) given the grader's forward values: gradients of the mean loss by finite
    differences along random directions, explained element-wise; running autograd inside it fails."""
    def test(example):
        params, X, Y = draw(example)
        outputs = forward(params, X)
        seen = ctx.student.op("watch", target=None, name="backward",
                              args=[_as_tensors(params), _as_tensors(outputs), tensor(Y)], kwargs={})
        if seen["autograd_runs"]:
            raise CheckFailed(f"backward ran PyTorch's autograd ({seen['autograd_runs']} time(s): .backward(), "
                              "torch.autograd.grad or torch.func). Compute the gradients by hand from outputs.")
        grads = seen["value"]
        if not isinstance(grads, dict):
            raise CheckFailed(f"backward should return a dict of gradients, but it returned {describe_type(grads)}")
        problems, valid = [], {}
        for key, value in params.items():
            if key not in grads:
                problems.append(f"the gradients have no key {key!r} (keys: {', '.join(map(str, grads))})")
                continue
            got = values_of(grads[key], f"grads[{key!r}]")
            problem = mismatch(f"grads[{key!r}]", got, np.zeros(value.shape), rtol=0, atol=np.inf,
                               batch=len(Y))
            if problem:
                problems.append(problem)
            else:
                valid[key] = got
        problems += fd_problems(lambda p: loss({**params, **p}, X, Y), {k: params[k] for k in valid}, valid,
                                {k: f"grads[{k!r}]" for k in valid}, step=1e-6, rtol=1e-4, atol=1e-7,
                                rng=np.random.default_rng(example["seed"]), batch=len(Y))
        if problems:
            raise CheckFailed("\n".join(problems))

    strategy = SIZES.filter(lambda e: e["N"] >= 3)  # N = 1 or 2 hides a missing sum or a factor N
    search(strategy, test, examples=ctx.params["examples"])
    return Passed(f"every gradient agrees with finite differences on {ctx.params['examples']} drawn sizes, "
                  "computed without autograd")


@check("backprop_sgd", eta=Param(float, 0.05))
def backprop_sgd(ctx):
    """sgd(params, grads, eta) returns p - eta * grad for every parameter and leaves the gradients alone."""
    params, X, Y = draw({"N": 4, "nx": 3, "nh": 5, "ny": 3, "seed": ctx.seed})
    grads = gradients(params, forward(params, X), Y)
    eta = ctx.params["eta"]
    sent_grads = {k: stored_tensor(ctx.student, v, dtype="float64") for k, v in grads.items()}
    new = ctx.student.module.call("sgd", _as_tensors(params), sent_grads, eta)
    if not isinstance(new, dict):
        raise CheckFailed(f"sgd should return the dict of updated parameters, but it returned {describe_type(new)}")
    for key in PARAMS:
        if key not in new:
            raise CheckFailed(f"sgd's result has no key {key!r} (keys: {', '.join(map(str, new))})")
        got = values_of(new[key], f"sgd(...)[{key!r}]", params[key].shape)
        expected = params[key] - eta * grads[key]
        problem = mismatch(f"sgd(...)[{key!r}]", got, expected, rtol=1e-9, atol=1e-12)
        if problem:
            if np.allclose(got, params[key] + eta * grads[key]):
                problem += "\n  The step goes up the gradient: subtract eta * grad."
            raise CheckFailed(problem)
    for key, ref in sent_grads.items():
        after = values_of(ctx.student.fetch(ref), f"grads[{key!r}]")
        if not np.array_equal(after, grads[key]):
            raise CheckFailed(f"sgd changed grads[{key!r}] in place; it must only read the gradients")
    return Passed(f"sgd takes the step p - {eta} * grad and leaves the gradients unchanged")
