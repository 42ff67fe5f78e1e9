"""Backward passes by finite differences, and the student's own finite differences.

The verdict is cheap: for each parameter, the directional derivative along two random unit
directions (as `torch.autograd.gradcheck`'s fast mode does) against <grad, u>. Only a parameter
that fails is localised element by element, to explain the failure (transpose, factor N, sign).

Forward and backward are graded independently: the backward passes when it is the gradient of
the student's own forward, or when, given the reference's cache, it is the true gradient. A forward
that hangs or crashes does not cost the backward items: the reference forward is used instead.
"""
from __future__ import annotations

import functools

import numpy as np
from hypothesis import assume

from .. import strategies as S
from ..compare import as_array, describe_type, mismatch
from ..sandbox.errors import StudentError, WorkerDied, WorkerTimeout
from .base import CheckFailed, Param, Passed, ReplayMiss, check, search
from .objects import example_weights, make_mlp, mlp_kwargs, reference_mlp

FD = {  # by the dtype of the forward's output: step, rtol, atol
    8: (1e-6, 1e-4, 1e-6),
    4: (1e-3, 3e-2, 3e-3),
    2: (1e-2, 1e-1, 3e-2),
}


def cross_entropy(probs: np.ndarray, labels: np.ndarray) -> float:
    """The mean loss the backward must differentiate, computed by the grader in float64."""
    p = np.asarray(probs, dtype=np.float64)
    return float(-np.sum(labels * np.log(np.maximum(p, 1e-300))) / labels.shape[0])


class ForwardFn:
    """weights -> the mean loss through one side's forward (the student's or the reference's)."""

    def __init__(self, nn, x, labels, L):
        self.nn, self.x, self.labels, self.L = nn, x, labels, L
        self._caches = {}  # the guard and the differences ask for the same points: one forward each

    def cache(self, weights) -> dict:
        point = tuple((key, value.tobytes()) for key, value in weights.items())
        if point not in self._caches:
            self.nn.set("weights", weights)
            cache = self.nn.call("forward", self.x)
            if not isinstance(cache, dict) or as_array(cache.get(f"Z{self.L}")) is None:
                raise CheckFailed(f"forward(x) did not return a cache with Z{self.L}")
            self._caches[point] = cache
        return self._caches[point]

    def probs(self, weights):
        return as_array(self.cache(weights)[f"Z{self.L}"])

    def __call__(self, weights) -> float:
        return cross_entropy(self.probs(weights), self.labels)

    def well_posed(self, weights) -> bool:
        """The true classes' probabilities are clear of 0, where the loss and its differences are sane."""
        probs = self.probs(weights)
        return probs.shape == self.labels.shape and np.min(np.sum(probs * self.labels, axis=1)) > 1e-6

    def relu_pattern(self, weights) -> list | None:
        """Which ReLU inputs A{l} of this forward are positive (a direction must not change it); None
        when its cache does not hold them."""
        cache = self.cache(weights)
        inputs = [as_array(cache.get(f"A{l}")) for l in range(1, self.L)]
        return None if any(a is None for a in inputs) else [a > 0 for a in inputs]


def _validate_grads(grads, weights, batch) -> tuple[list[str], list[str]]:
    """-> (problems, the weight names whose gradient has the right shape and finite values)."""
    if not isinstance(grads, dict):
        return [f"backward should return a dict of gradients, but it returned {describe_type(grads)}"], []
    problems, valid = [], []
    for key, w in weights.items():
        name = f"d{key}"
        if name not in grads:
            problems.append(f"backward's result has no key {name!r} (keys: {', '.join(map(str, grads))})")
            continue
        g = as_array(grads[name])
        if g is None or g.shape != w.shape:
            problems.append(mismatch(name, grads[name], np.zeros(w.shape), rtol=0, atol=0, batch=batch,
                                     what="gradient").split("\n  Mismatched")[0])
        elif not np.all(np.isfinite(g)):
            problems.append(f"{name} contains NaN or infinity")
        else:
            valid.append(key)
    return problems, valid


def fd_problems(f, point: dict, analytic: dict, labels: dict, *, step: float, rtol: float, atol: float,
                rng: np.random.Generator, batch: int | None = None, guard=None,
                numbers: dict[str, float] | None = None) -> list[str]:
    """Finite differences of the scalar f(point) for every array of `point` against `analytic` (same keys).

    Decides with central differences along two random unit directions per array; localises element by
    element only the arrays that fail, to report them as assert_close does. `guard(plus, minus)` may
    reject a direction that crosses a kink (then the example is rejected). Every failing array is
    reported, not just the first.
    """
    failing = []
    # One generator per array, drawn up front: the directions tried for one array do not depend on
    # whether an earlier array passed (so a recorded reference, the student kit's, sees the same requests).
    key_rngs = {key: np.random.default_rng(int(rng.integers(2**63))) for key in point}
    for key, value in point.items():
        g = np.asarray(analytic[key], dtype=np.float64)
        for _ in range(2):
            u = key_rngs[key].standard_normal(value.shape)
            u /= max(np.linalg.norm(u), 1e-300)
            plus, minus = {**point, key: value + step * u}, {**point, key: value - step * u}
            if guard is not None:
                assume(guard(plus, minus))
            numeric = (f(plus) - f(minus)) / (2 * step)
            directional = float(np.sum(g * u))
            if abs(numeric - directional) > atol + rtol * max(abs(numeric), abs(directional)):
                failing.append(key)
                break
    problems = []
    for key in failing:
        value = point[key]
        numeric = np.zeros(value.shape)
        for i in range(value.size):
            delta = np.zeros(value.size)
            delta[i] = step
            delta = delta.reshape(value.shape)
            numeric.flat[i] = (f({**point, key: value + delta}) - f({**point, key: value - delta})) / (2 * step)
        problem = mismatch(labels[key], analytic[key], numeric, rtol=rtol, atol=atol, batch=batch,
                           what="gradient from finite differences", numbers=numbers)
        problems.append(problem or f"{labels[key]} disagrees with finite differences along a random direction")
    return problems


def _gradient_problems(fn: ForwardFn, weights, grads, batch, rng, relu_pattern=None, numbers=None) -> list[str]:
    """Shape problems, then finite differences of every well-shaped gradient of the MLP's mean loss.
    relu_pattern: where ReLU has kinks, weights -> which ReLU inputs are positive. numbers: the NN's
    settings a wrong factor may come from (its batch_size: dividing by it instead of N)."""
    problems, valid = _validate_grads(grads, weights, batch)
    if not valid:
        return problems
    probs = fn.probs(weights)
    step, rtol, atol = FD.get(probs.dtype.itemsize, FD[8])
    guard = None
    if relu_pattern is not None:
        base = relu_pattern(weights)
        guard = lambda plus, minus: all(  # noqa: E731
            all(np.array_equal(a, b) for a, b in zip(base, relu_pattern({**weights, **w}))) for w in (plus, minus))
    point = {key: weights[key] for key in valid}
    analytic = {key: grads[f"d{key}"] for key in valid}
    return problems + fd_problems(lambda w: fn({**weights, **w}), point, analytic,
                                  {key: f"d{key}" for key in valid}, step=step, rtol=rtol, atol=atol, rng=rng,
                                  batch=batch, guard=guard, numbers=numbers)


@check("mlp_backward",
       activations=Param(list, ["relu"], choices=("relu", "sigmoid", "tanh")),
       examples=Param(int, 20), probe_timeout_s=Param(float, 5.0))
def mlp_backward(ctx):
    """backward(cache, labels): every dW{l} and db{l} by finite differences of the mean loss."""
    p = ctx.params
    notes = []
    state = {"own_forward": True}
    probe = {"input_dim": 3, "hidden_dims": (4,), "n_classes": 2, "activation": p["activations"][0],
             "batch": 2, "seed": 0}
    try:
        with ctx.time_limit(p["probe_timeout_s"]):
            make_mlp(ctx.student, probe, weights=example_weights(probe)).call("forward", np.ones((2, 3)))
    except (WorkerTimeout, WorkerDied) as exc:
        state["own_forward"] = False
        notes.append(f"(forward could not be used: {str(exc).splitlines()[0]}; backward was checked "
                     "with the reference forward's cache)")
    except StudentError:
        pass

    def test(example):
        weights = example_weights(example)
        x, labels = S.mlp_batch(example, S.rng_for(example, "inputs"))
        L = len(example["hidden_dims"]) + 1
        kinks = example["activation"] == "relu"
        nn = make_mlp(ctx.student, example, weights=weights)
        settings = {"batch_size": mlp_kwargs(example)["batch_size"], "lr": mlp_kwargs(example)["lr"]}
        reference = functools.cache(lambda: ForwardFn(reference_mlp(ctx, example, weights), x, labels, L))

        # First the student's own forward, which needs no reference (so the student kit, which has none,
        # shrinks a failure exactly as grading does); its ReLU kinks are its own.
        own_problems = None
        if state["own_forward"]:
            own = ForwardFn(nn, x, labels, L)

            def own_pattern(w):
                found = own.relu_pattern(w)
                return found if found is not None else reference().relu_pattern(w)
            try:
                try:
                    usable = own.well_posed(weights)
                except CheckFailed:  # no cache to differentiate: the reference's is tried
                    usable = False
                if usable:
                    grads = nn.call("backward", own.cache(weights), labels)
                    own_problems = _gradient_problems(own, weights, grads, example["batch"],
                                                      np.random.default_rng(example["seed"] + 1),
                                                      own_pattern if kinks else None, settings)
                    if not own_problems:
                        return
            except (StudentError, CheckFailed) as exc:
                own_problems = own_problems or [exc.feedback() if isinstance(exc, StudentError) else exc.message]
        # The student's forward failed, disagrees with its backward, or is not used: check the
        # backward on the reference's cache against the true gradient.
        try:
            ref = reference()
            ref_cache = ref.cache(weights)
            assume(ref.well_posed(weights))
            nn.set("weights", weights)
            try:
                grads = nn.call("backward", ref_cache, labels)
            except StudentError:
                if own_problems:
                    raise CheckFailed("\n".join(own_problems)) from None
                raise
            problems = _gradient_problems(ref, weights, grads, example["batch"],
                                          np.random.default_rng(example["seed"] + 1),
                                          ref.relu_pattern if kinks else None, settings)
        except ReplayMiss:
            if own_problems:  # the student kit cannot try the reference's cache: the first verdict stands
                raise CheckFailed("\n".join(own_problems)) from None
            raise
        if problems:
            raise CheckFailed("\n".join(problems))

    # Batches of at least 3: with one example, bugs in the sums over the batch cannot show, and
    # with two, a factor of N cannot be told from a factor of 2.
    search(S.mlp_examples(p["activations"], min_batch=3), test, examples=p["examples"])
    return Passed(" ".join([f"backward agrees with finite differences on {p['examples']} drawn "
                            "architectures and batches"] + notes))


@check("mlp_numerical_gradient", examples=Param(int, 8))
def mlp_numerical_gradient(ctx):
    """numerical_gradient(x, labels, param, p, eps): against the grader's own central differences of
    the student's loss(forward(x)), and the weights left as they were."""
    strategy = S.mlp_examples(["relu", "tanh"], max_width=4).map(
        lambda e: {**e, "layer": e["seed"] % (len(e["hidden_dims"]) + 1) + 1, "kind": "Wb"[e["seed"] % 2],
                   "p": 1 + e["seed"] % 10})

    def test(example):
        weights = example_weights(example)
        x, labels = S.mlp_batch(example, S.rng_for(example, "inputs"))
        L = len(example["hidden_dims"]) + 1
        param = f"{example['kind']}{example['layer']}"
        p = min(example["p"], weights[param].size)
        eps = 1e-5
        nn = make_mlp(ctx.student, example, weights=weights)

        def loss_at(i: int, step: float) -> float:
            """The student's loss with entry i of `param` moved by `step`."""
            w = dict(weights)
            w[param] = weights[param].copy()
            w[param].flat[i] += step
            nn.set("weights", w)
            probs = nn.call("forward", x)
            value = nn.call("loss", probs[f"Z{L}"] if isinstance(probs, dict) else probs, labels)
            if as_array(value) is None:
                raise CheckFailed(f"loss returned {describe_type(value)}, so no finite difference can be formed")
            return float(as_array(value).ravel()[0])

        expected = np.array([(loss_at(i, eps) - loss_at(i, -eps)) / (2 * eps) for i in range(p)])
        nn.set("weights", {k: v.copy() for k, v in weights.items()})
        got = nn.call("numerical_gradient", x, labels, param=param, p=p, eps=eps)
        label = f"numerical_gradient(x, labels, param={param!r}, p={p}, eps={eps:g})"
        problem = mismatch(label, got, expected, rtol=1e-5, atol=1e-8, what="expected result")
        if problem:
            if as_array(got) is not None and as_array(got).shape == expected.shape:
                ratio = float(np.sum(as_array(got) * expected) / max(np.sum(expected * expected), 1e-300))
                one_sided = lambda: np.array([(loss_at(i, eps) - loss_at(i, 0.0)) / eps for i in range(p)])  # noqa: E731
                if np.isclose(ratio, 2, rtol=1e-3) or np.isclose(ratio, 0.5, rtol=1e-3):
                    problem += "\n  Likely cause: the central difference (f(w + eps) - f(w - eps)) divides by 2 eps."
                elif np.allclose(as_array(got), one_sided(), rtol=1e-4, atol=1e-7):
                    problem += ("\n  Likely cause: a one-sided difference (f(w + eps) - f(w)) / eps; "
                                "use central differences (f(w + eps) - f(w - eps)) / (2 eps).")
            raise CheckFailed(problem)
        after = nn.get("weights")
        for key, w in weights.items():
            value = as_array(after.get(key)) if isinstance(after, dict) else None
            if value is None or value.shape != w.shape or not np.allclose(value, w, rtol=0, atol=1e-12):
                change = "" if value is None or value.shape != w.shape else \
                    f" (largest change {np.max(np.abs(value - w)):.3g})"
                raise CheckFailed(f"{label} left weights[{key!r}] changed{change}: restore every weight "
                                  "after perturbing it")

    search(strategy, test, examples=ctx.params["examples"])
    return Passed(f"numerical_gradient agrees with the grader's central differences on "
                  f"{ctx.params['examples']} drawn examples and leaves the weights unchanged")
