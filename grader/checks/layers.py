"""Layers that follow the layer contract: `params`, `grads`, `training`, `forward(x)`, `backward(grad_out)`.

Any such class gets, from a rubric entry naming a drawn layer (`strategies.LAYERS`):
- `layer_forward`: the output against the reference with the same parameters;
- `layer_backward`: finite differences of <forward(x), g> for a random upstream gradient g, with respect
  to the input and every parameter; graded independently of the forward, as for the MLP;
- `layer_contract`: grads overwritten not accumulated, forward leaves its input alone, backward uses the
  latest forward, train()/eval() set `training`.
"""
from __future__ import annotations

import numpy as np

from .. import strategies as S
from ..compare import as_array, describe_type, least_precise, mismatch, tolerances
from .base import CheckFailed, Param, Passed, ReplayMiss, check, search
from .gradients import FD, fd_problems


def make_layer(handle, spec: S.LayerSpec, example: dict, params: dict | None = None, state: dict | None = None):
    """The layer of a drawn example on one side of a handle, with the grader's parameters and state."""
    kwargs = dict(example["kwargs"])
    if spec.uses_rng:
        kwargs["rng"] = handle.rng(example["seed"])
    return _configure(handle.new(spec.cls, **kwargs), spec, params, state)


def _configure(layer, spec: S.LayerSpec, params: dict | None, state: dict | None):
    """Gives a layer the grader's parameters and state, and the mode the spec checks it in."""
    for name, value in (params or {}).items():
        layer.set("params", value, key=name)
    for name, value in (state or {}).items():
        layer.set(name, value)
    if not spec.training:
        layer.call("eval")
    return layer


def reference_setup(ctx, spec: S.LayerSpec, example: dict):
    """-> (reference layer, grader's params, grader's state): drawn once, given to both sides."""
    probe = make_layer(ctx.reference, spec, example)     # built once: its shapes, then the grader's values
    shapes = {name: value.shape for name, value in probe.get("params").items()}
    params = S.layer_params(example, shapes)
    state = {}
    if spec.cls == "BatchNorm1d" and not spec.training:
        rng = np.random.default_rng(example["seed"] + 11)
        d = example["kwargs"]["num_features"]
        state = {"running_mean": rng.standard_normal(d), "running_var": rng.uniform(0.5, 2.0, d)}
    return _configure(probe, spec, params, state), params, state


def _label(spec: S.LayerSpec, example: dict) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in example["kwargs"].items())
    return f"{spec.cls}({args})"


@check("layer_forward", layer=Param(str, choices=tuple(S.LAYERS)), examples=Param(int, 30),
       rtol=Param(float, 1e-6), atol=Param(float, 1e-9))
def layer_forward(ctx):
    """forward(x) against the reference, with the grader's parameters, on drawn shapes and arguments."""
    p = ctx.params
    spec = S.LAYERS[p["layer"]]

    def test(example):
        reference, params, state = reference_setup(ctx, spec, example)
        x = spec.make_input(example)
        expected = reference.call("forward", x)
        got = make_layer(ctx.student, spec, example, params, state).call("forward", x)
        rtol, atol = tolerances(getattr(got, "dtype", None), p["rtol"], p["atol"])
        problem = mismatch(f"{_label(spec, example)}.forward(x) with x of shape {tuple(x.shape)}", got, expected,
                           rtol=rtol, atol=atol)
        if problem:
            raise CheckFailed(problem)

    search(spec.examples, test, examples=p["examples"], explicit=spec.explicit)
    mode = "" if spec.training else " in eval mode"
    return Passed(f"{spec.cls}.forward{mode} matches the reference on {p['examples']} drawn shapes and arguments")


class _LayerFn:
    """{"x": x, **params} -> <forward(x), g> through one side's layer."""

    def __init__(self, layer, g):
        self.layer, self.g = layer, g

    def output(self, point):
        for name, value in point.items():
            if name != "x":
                self.layer.set("params", value, key=name)
        out = as_array(self.layer.call("forward", point["x"]))
        if out is None or out.shape != self.g.shape:
            raise CheckFailed(f"forward returned {describe_type(out)}, expected shape {self.g.shape}")
        return out

    def __call__(self, point) -> float:
        return float(np.sum(self.output(point).astype(np.float64) * self.g))


def _backward_problems(student, fd_fn: _LayerFn, x, params, g, example, label) -> list[str]:
    """The student's forward (which stores its state) and backward; dx and every grads entry against
    finite differences of `fd_fn` (the student's own layer, or the reference's)."""
    _LayerFn(student, g).output({"x": x, **params})
    dx = student.call("backward", g)
    grads = student.get("grads") if params else {}
    if params and not isinstance(grads, dict):
        return [f"{label}.grads should be a dict, but it is {describe_type(grads)}"]
    problems, point, analytic = [], {}, {}
    names = {"x": f"{label}.backward(g) (the gradient w.r.t. x)",
             **{name: f"{label}.grads[{name!r}]" for name in params}}
    for name, value, got in [("x", x, dx)] + [(n, v, grads.get(n)) for n, v in params.items()]:
        arr = as_array(got)
        if arr is None or arr.shape != value.shape:
            problems.append(mismatch(names[name], got, np.zeros(value.shape), rtol=0, atol=0)
                            .split("\n  Mismatched")[0])
        else:
            point[name], analytic[name] = value, arr
    if point:
        full = {"x": x, **params}
        step, rtol, atol = FD.get(fd_fn.output(full).dtype.itemsize, FD[8])
        problems += fd_problems(lambda pt: fd_fn({**full, **pt}), point, analytic, names, step=step, rtol=rtol,
                                atol=atol, rng=np.random.default_rng(example["seed"] + 3),
                                batch=x.shape[0] if x.ndim > 1 else None)
    return problems


@check("layer_backward", layer=Param(str, choices=tuple(S.LAYERS)), examples=Param(int, 20))
def layer_backward(ctx):
    """backward(g): the gradient w.r.t. x and every grads entry, by finite differences of <forward(x), g>.
    Passes when it is the gradient of the student's own forward, or the true (reference) gradient."""
    p = ctx.params
    spec = S.LAYERS[p["layer"]]

    def test(example):
        reference, params, extra = reference_setup(ctx, spec, example)
        x = spec.make_input(example)
        g = np.random.default_rng(example["seed"] + 5).standard_normal(np.shape(reference.call("forward", x)))
        label = _label(spec, example)
        student = make_layer(ctx.student, spec, example, params, extra)
        own_problems = _backward_problems(student, _LayerFn(student, g), x, params, g, example, label)
        if not own_problems:
            return
        student = make_layer(ctx.student, spec, example, params, extra)
        try:
            problems = _backward_problems(student, _LayerFn(reference, g), x, params, g, example, label)
        except ReplayMiss:  # the student kit cannot try the reference's gradient: the first verdict stands
            problems = own_problems
        if problems:
            raise CheckFailed("\n".join(problems))

    search(spec.examples, test, examples=p["examples"], explicit=spec.explicit)
    return Passed(f"{spec.cls}.backward agrees with finite differences on {p['examples']} drawn shapes and arguments")


@check("layer_contract", layer=Param(str, choices=tuple(S.LAYERS)), examples=Param(int, 5))
def layer_contract(ctx):
    """grads overwritten not accumulated; forward leaves x alone; backward uses the latest forward;
    train()/eval() set `training`."""
    p = ctx.params
    spec = S.LAYERS[p["layer"]]

    def test(example):
        reference, params, state = reference_setup(ctx, spec, example)
        label = _label(spec, example)
        x1 = spec.make_input(example)
        x2 = spec.make_input({**example, "seed": example["seed"] + 1})
        rng = np.random.default_rng(example["seed"] + 9)
        g1 = rng.standard_normal(np.shape(reference.call("forward", x1)))
        g2 = rng.standard_normal(g1.shape)
        student = make_layer(ctx.student, spec, example, params, state)

        stored = ctx.student.put(x1)
        student.call("forward", stored)
        after = as_array(ctx.student.fetch(stored))
        if after is None or not np.array_equal(after, x1):
            raise CheckFailed(f"{label}.forward(x) modified its input x: work on a copy (x = x + ..., not x += ...)")

        # Two rounds: the second backward's grads must be those of the second round alone.
        student.call("backward", g1)
        out2 = student.call("forward", x2)
        dx = student.call("backward", g2)
        reference.call("forward", x2)
        expected_dx = reference.call("backward", g2)
        tol = tolerances(least_precise(as_array(dx), as_array(out2)), 1e-6, 1e-9)
        problem = mismatch(f"{label}.backward(g) after forward(x1), backward, forward(x2)", dx, expected_dx,
                           rtol=tol[0], atol=tol[1])
        if problem:
            raise CheckFailed(problem + "\n  backward must use what the latest forward stored.")
        if params:
            grads, expected = student.get("grads"), reference.get("grads")
            reference.call("forward", x1)
            reference.call("backward", g1)
            first = reference.get("grads")
            for name in params:
                got = as_array(grads.get(name)) if isinstance(grads, dict) else None
                if got is not None and got.shape == expected[name].shape and \
                        np.allclose(got, expected[name] + first[name], rtol=1e-6, atol=1e-9) and \
                        not np.allclose(got, expected[name], rtol=1e-6, atol=1e-9):
                    raise CheckFailed(f"{label}.grads[{name!r}] after two forward/backward rounds is the sum of "
                                      "both rounds' gradients: backward must overwrite grads, not accumulate (+=)")
                value = grads.get(name) if isinstance(grads, dict) else grads
                rtol, atol = tolerances(least_precise(as_array(value), as_array(out2)), 1e-6, 1e-9)
                problem = mismatch(f"{label}.grads[{name!r}] after a second round", value, expected[name],
                                   rtol=rtol, atol=atol)
                if problem:
                    raise CheckFailed(problem)

        fresh = make_layer(ctx.student, spec, {**example}, params, None if spec.training else state)
        if spec.training and fresh.get("training") is not True:
            raise CheckFailed(f"{label}.training should be True after construction, got {fresh.get('training')!r}")
        fresh.call("eval")
        if fresh.get("training") is not False:
            raise CheckFailed(f"{label}.eval() should set training to False")
        fresh.call("train")
        if fresh.get("training") is not True:
            raise CheckFailed(f"{label}.train() should set training to True")

    search(spec.examples, test, examples=p["examples"], explicit=spec.explicit)
    return Passed(f"{spec.cls} keeps the layer contract on {p['examples']} drawn examples")

