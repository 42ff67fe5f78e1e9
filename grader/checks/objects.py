"""Building the objects under test on either side of a handle.

Items are graded independently: a broken constructor (say, `initialize_weights` not written yet)
must not cost the items of `relu` or `forward`. So when the student's `NN(...)` raises, the object
is built without `__init__`, with the attributes the API documents, and the weights set by the grader.
"""
from __future__ import annotations

import numpy as np

from ..sandbox.errors import StudentError
from ..strategies import mlp_weights, rng_for


def mlp_kwargs(example: dict, **overrides) -> dict:
    kwargs = dict(hidden_dims=tuple(example["hidden_dims"]), input_dim=example["input_dim"],
                  n_classes=example["n_classes"], activation=example.get("activation", "relu"),
                  init_method="glorot", lr=0.1, batch_size=64, seed=0, epsilon=1e-8)
    kwargs.update(overrides)
    return kwargs


def make_mlp(handle, example: dict, *, weights: dict | None = None, **overrides):
    """The `NN` for an example dict (input_dim, hidden_dims, n_classes, activation), weights set."""
    kwargs = mlp_kwargs(example, **overrides)
    try:
        obj = handle.new("NN", **kwargs)
    except StudentError as first:
        if first.type == "MissingName":
            raise
        attrs = dict(kwargs)
        attrs["activation_str"] = attrs.pop("activation")
        try:
            obj = handle.new_bare("NN", **attrs)
        except StudentError:
            raise first from None
    if weights is not None:
        obj.set("weights", weights)
    return obj


def reference_mlp(ctx, example: dict, weights: dict, **overrides):
    return make_mlp(ctx.reference, example, weights=weights, **overrides)


def example_weights(example: dict) -> dict:
    return mlp_weights(example, rng_for(example))


def param_shapes(cls: str, args: tuple) -> dict[str, tuple]:
    """The parameter shapes of the convnet contract's layers, from their constructor arguments."""
    if cls == "Linear":
        return {"W": (args[0], args[1]), "b": (args[1],)}
    if cls == "Conv2d":
        return {"W": (args[1], args[0], args[2], args[2]), "b": (args[1],)}
    return {}


def bare_sequential(handle, layers: list[tuple[str, tuple]], rng=None):
    """A Sequential of the student's layer classes built without their constructors: each layer gets
    `params` (the grader's values, zeros without rng), empty `grads` and `training`. Items that test
    SGD or count_parameters then do not depend on the layers' __init__."""
    built = []
    for cls, args in layers:
        params = {name: (rng.standard_normal(shape) if rng is not None else np.zeros(shape))
                  for name, shape in param_shapes(cls, args).items()}
        built.append(handle.new_bare(cls, params=params, grads={}, training=True))
    try:
        return handle.new("Sequential", *built)
    except StudentError:
        return handle.new_bare("Sequential", layers=built, params={}, grads={}, training=True)
