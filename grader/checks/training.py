"""Training: the loss goes down on a small problem, and the accuracy gate on real data.

For the gate, the student's `train` runs in the worker on the training split; `predict` runs on the
validation images; the grader computes the accuracy itself. Validation labels never leave the grader.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ..compare import as_array, describe_type
from ..sandbox.errors import StudentError
from .base import CheckFailed, Param, Passed, check
from .gradients import cross_entropy
from .parameters import validate_config


def _blobs(seed: int, n: int, dim: int, classes: int):
    """A small separable problem: X (n, dim) float64, y (n,) int64."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, dim)) * 2
    y = rng.integers(0, classes, n)
    return centres[y] + rng.standard_normal((n, dim)), y


def _labels(pred, n: int, what: str) -> np.ndarray:
    arr = as_array(pred)
    if arr is None or arr.shape != (n,):
        raise CheckFailed(f"{what} should return integer labels of shape ({n},), but it returned "
                          f"{describe_type(pred)}")
    if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
        raise CheckFailed(f"{what} should return integer class labels, not scores or probabilities")
    return arr.astype(np.int64)


HISTORY_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc")


def check_history(history, n_epochs: int, *, who: str = "train") -> None:
    """history: what `who` (train, fit) returned: a dict of per-epoch lists of finite numbers."""
    if not isinstance(history, dict):
        raise CheckFailed(f"{who} should return a dict of per-epoch lists, but it returned {describe_type(history)}")
    for key in HISTORY_KEYS:
        values = history.get(key)
        if not isinstance(values, (list, tuple)) or len(values) != n_epochs:
            raise CheckFailed(f"{who}'s history[{key!r}] should be a list with one value per epoch "
                              f"({n_epochs}), got {describe_type(values)}")
        for v in values:
            if as_array(v) is None or as_array(v).size != 1 or not np.isfinite(as_array(v)).all():
                raise CheckFailed(f"history[{key!r}] should hold finite numbers, got {describe_type(v)}")


def _put_images(ctx, images: np.ndarray, shape: tuple):
    """uint8 images -> a handle on float32 in [0, 1] of shape (N, *shape), converted in the worker."""
    return ctx.student.put(images.reshape(images.shape[0], *shape), dtype="float32", scale=1 / 255)


def _fresh_worker(student) -> None:
    """The student's training gets all the memory the container has left once the data set is loaded."""
    getattr(student, "fresh_worker", lambda: None)()


@contextlib.contextmanager
def _sized_memory_errors(images: np.ndarray, shape: tuple):
    """A MemoryError in the student's training says how large the training set is."""
    try:
        yield
    except StudentError as exc:
        if exc.type == "MemoryError":
            dims = (images.shape[0], *images.reshape(images.shape[0], *shape).shape[1:])
            exc.memory_context = (f"the training set is {' x '.join(f'{d:,}' for d in dims)}; a float64 copy of "
                                  f"it is {int(np.prod(dims)) * 8 / 1e6:,.0f} MB")
        raise


def _gate_verdict(p, pred, split, n_epochs: int, advice: str):
    """The grader's own accuracy of `pred` on its validation labels, against the threshold."""
    n_train, n_val = split.train_images.shape[0], split.val_images.shape[0]
    accuracy = float(np.mean(pred == split.val_labels))
    details = {"accuracy": round(accuracy, 6), "threshold": p["threshold"], "n_train": n_train, "n_val": n_val}
    summary = (f"validation accuracy {accuracy:.4f} on {n_val} held-out images after {n_epochs} "
               f"epoch(s) on {n_train} training images (threshold {p['threshold']:.4f})")
    if accuracy < p["threshold"]:
        raise CheckFailed(f"{summary}: below the threshold. {advice}", details)
    return Passed(summary, details)


@check("mlp_training",
       n_examples=Param(int, 600), input_dim=Param(int, 20), n_classes=Param(int, 4),
       hidden_dims=Param(list, [32, 16]), n_epochs=Param(int, 2), lr=Param(float, 0.1),
       batch_size=Param(int, 32), min_decrease=Param(float, 0.2))
def mlp_training(ctx):
    """train() on a small separable problem lowers the loss, returns its history, and predict() works."""
    p = ctx.params
    X, y = _blobs(ctx.seed, p["n_examples"], p["input_dim"], p["n_classes"])
    Xv, yv = X[:100], y[:100]
    nn = ctx.student.new("NN", hidden_dims=tuple(p["hidden_dims"]), input_dim=p["input_dim"],
                         n_classes=p["n_classes"], activation="relu", init_method="glorot", lr=p["lr"],
                         batch_size=p["batch_size"], seed=0)
    labels = np.eye(p["n_classes"])[y]
    L = len(p["hidden_dims"]) + 1

    def loss_now() -> float:
        cache = nn.call("forward", X)
        if not isinstance(cache, dict) or as_array(cache.get(f"Z{L}")) is None:
            raise CheckFailed(f"forward(x) did not return a cache with Z{L}, so the loss cannot be measured")
        return cross_entropy(as_array(cache[f"Z{L}"]), labels)

    before = loss_now()
    history = nn.call("train", X, y, p["n_epochs"], X_val=Xv, y_val=yv)
    after = loss_now()
    check_history(history, p["n_epochs"])
    if not after <= (1 - p["min_decrease"]) * before:
        raise CheckFailed(f"after {p['n_epochs']} epochs of train() on a small separable problem the mean loss "
                          f"went from {before:.4f} to {after:.4f}; it should fall by at least "
                          f"{p['min_decrease']:.0%}. Are the weights updated, and with the right sign?")
    _labels(nn.call("predict", X[:50]), 50, "predict(X)")
    return Passed(f"the loss fell from {before:.4f} to {after:.4f} in {p['n_epochs']} epochs; the history "
                  "and predict() have the right form")


@check("accuracy_gate", needs_data=True,
       config=Param(str, "BEST_CONFIG"), threshold=Param(float),
       overrides=Param(dict, {"init_method": "glorot", "seed": 0}),
       input_dim=Param(int, 784), n_classes=Param(int, 10),
       min_parameters=Param(int, 500_000), max_parameters=Param(int, 1_000_000), max_epochs=Param(int, 10),
       activations=Param(list, ["relu", "sigmoid", "tanh"]))
def accuracy_gate(ctx):
    """NN(**config minus n_epochs, **overrides).train(train split, n_epochs); accuracy of predict() on the
    grader's validation split, computed by the grader."""
    p = ctx.params
    config = ctx.student.module.get(p["config"])
    problems = validate_config(config, p)
    if problems:
        raise CheckFailed(f"{p['config']} cannot be used: " + "; ".join(problems))
    split = ctx.data()
    _fresh_worker(ctx.student)
    X, y = _put_images(ctx, split.train_images, (-1,)), ctx.student.put(split.train_labels)
    kwargs = {k: v for k, v in config.items() if k != "n_epochs"}
    kwargs.update(hidden_dims=tuple(config["hidden_dims"]), input_dim=p["input_dim"], n_classes=p["n_classes"],
                  **p["overrides"])
    nn = ctx.student.new("NN", **kwargs)
    with _sized_memory_errors(split.train_images, (-1,)):
        nn.call("train", X, y, config["n_epochs"])
    Xv = _put_images(ctx, split.val_images, (-1,))
    pred = _labels(nn.call("predict", Xv), split.val_images.shape[0], "predict(X_val)")
    return _gate_verdict(p, pred, split, config["n_epochs"], "Tune BEST_CONFIG (learning rate, width, epochs) "
                         "and check that train() shuffles and updates every batch.")


@check("function_accuracy_gate", needs_data=True,
       config=Param(str, "BEST_CONFIG"), threshold=Param(float),
       builder=Param(str, "build_convnet"), trainer=Param(str, "train"), predictor=Param(str, "predict"),
       input_shape=Param(list, [1, 28, 28]), max_epochs=Param(int, 10), seed=Param(int, 0))
def function_accuracy_gate(ctx):
    """model = builder(rng); trainer(model, X, y, n_epochs, lr, batch_size, rng) on the training split with
    the config; the accuracy of predictor(model, X_val) on the grader's validation split."""
    p = ctx.params
    config = ctx.student.module.get(p["config"])
    problems = []
    if not isinstance(config, dict):
        problems.append(f"should be a dict, but it is {describe_type(config)}")
    else:
        ne, lr, bs = config.get("n_epochs"), config.get("lr"), config.get("batch_size")
        if not isinstance(ne, int) or isinstance(ne, bool) or not 1 <= ne <= p["max_epochs"]:
            problems.append(f"n_epochs must be an int from 1 to {p['max_epochs']}, got {ne!r}")
        if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0:
            problems.append(f"lr must be a positive number, got {lr!r}")
        if not isinstance(bs, int) or isinstance(bs, bool) or bs < 1:
            problems.append(f"batch_size must be a positive int, got {bs!r}")
    if problems:
        raise CheckFailed(f"{p['config']} cannot be used: " + "; ".join(problems))
    split = ctx.data()
    _fresh_worker(ctx.student)
    shape = tuple(p["input_shape"])
    X, y = _put_images(ctx, split.train_images, shape), ctx.student.put(split.train_labels)
    model = ctx.student.module.call(p["builder"], rng=ctx.student.rng(p["seed"]))
    with _sized_memory_errors(split.train_images, shape):
        ctx.student.module.call(p["trainer"], model, X, y, config["n_epochs"], config["lr"], config["batch_size"],
                                rng=ctx.student.rng(p["seed"]))
    Xv = _put_images(ctx, split.val_images, shape)
    pred = _labels(ctx.student.module.call(p["predictor"], model, Xv), split.val_images.shape[0],
                   f"{p['predictor']}(model, X_val)")
    return _gate_verdict(p, pred, split, config["n_epochs"], f"Tune {p['config']} and check that {p['trainer']} "
                         "shuffles, steps the optimiser after every batch, and that predict uses eval mode.")
