"""Hypothesis strategies for the checks: shapes and architectures are drawn (and shrunk) by
hypothesis; the numbers inside arrays come from `numpy.random.default_rng(seed)` with a drawn
seed, so examples are cheap, reproducible and described by a few integers.

Each `inputs` generator maps an example dict to the arguments of the call under test.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
KINK_MARGIN = 0.05


def rng_for(example: dict) -> np.random.Generator:
    return np.random.default_rng(example["seed"])


def away_from_zero(x: np.ndarray, margin: float = KINK_MARGIN) -> np.ndarray:
    """Moves every entry at least `margin` away from 0 (ReLU's kink), keeping its sign."""
    return np.where(x >= 0, x + margin, x - margin)


def mlp_architectures(*, max_input=6, max_hidden_layers=3, max_width=6, max_classes=5):
    return st.fixed_dictionaries({
        "input_dim": st.integers(1, max_input),
        "hidden_dims": st.lists(st.integers(1, max_width), min_size=1, max_size=max_hidden_layers).map(tuple),
        "n_classes": st.integers(2, max_classes),
    })


def mlp_examples(activations, *, min_batch=1, max_batch=6, **arch):
    return st.tuples(mlp_architectures(**arch), st.fixed_dictionaries({
        "activation": st.sampled_from(list(activations)),
        "batch": st.integers(min_batch, max_batch),
        "seed": SEEDS,
    })).map(lambda pair: {**pair[0], **pair[1]})


def mlp_dims(example: dict) -> list[int]:
    return [example["input_dim"], *example["hidden_dims"], example["n_classes"]]


def mlp_weights(example: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Weights with fan-in scaling, so activations stay O(1), and non-zero biases."""
    weights = {}
    dims = mlp_dims(example)
    for l in range(1, len(dims)):
        weights[f"W{l}"] = rng.standard_normal((dims[l - 1], dims[l])) * (1.5 / np.sqrt(dims[l - 1]))
        weights[f"b{l}"] = rng.standard_normal((1, dims[l])) * 0.5
    return weights


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    out = np.zeros((labels.shape[0], classes))
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


def mlp_batch(example: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """x: (N, d0), labels: (N, C) one-hot."""
    x = rng.standard_normal((example["batch"], example["input_dim"]))
    labels = one_hot(rng.integers(0, example["n_classes"], example["batch"]), example["n_classes"])
    return x, labels


# --- inputs for `method_values`: name -> (strategy of examples, example -> (args, kwargs)) ---

def _elementwise(example):
    x = rng_for(example).standard_normal(tuple(example["shape"])) * 3
    return (away_from_zero(x),), {}


def _logits(example):
    return (rng_for(example).standard_normal((example["batch"], example["classes"])) * 3,), {}


def _large_logits(example):
    rng = rng_for(example)
    x = rng.uniform(-1000, 1000, (example["batch"], example["classes"]))
    x[:, 0] = 1000 * rng.choice([-1, 1], size=example["batch"])
    return (x,), {}


def _vector_logits(example):
    return (rng_for(example).standard_normal(example["classes"]) * 3,), {}


def _loss_inputs(example):
    """Probabilities with exact zeros and ones where `extreme` is set, to exercise the clipping."""
    rng = rng_for(example)
    n, c = example["batch"], example["classes"]
    logits = rng.standard_normal((n, c)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = one_hot(rng.integers(0, c, n), c)
    if example["extreme"]:
        probs[0] = labels[0][::-1] if c == 2 else np.roll(labels[0], 1)   # true class gets exactly 0
        if n > 1:
            probs[1] = labels[1]                                        # true class gets exactly 1
    return (probs, labels), {}


_SHAPES = st.lists(st.integers(1, 5), min_size=1, max_size=3)
_BATCH_CLASSES = {"batch": st.integers(1, 6), "classes": st.integers(2, 6), "seed": SEEDS}

INPUTS = {
    "elementwise": (st.fixed_dictionaries({"shape": _SHAPES, "seed": SEEDS}), _elementwise),
    "logits": (st.fixed_dictionaries(_BATCH_CLASSES), _logits),
    "large_logits": (st.fixed_dictionaries(_BATCH_CLASSES), _large_logits),
    "vector_logits": (st.fixed_dictionaries({"classes": st.integers(2, 8), "seed": SEEDS}), _vector_logits),
    "loss_inputs": (st.fixed_dictionaries({**_BATCH_CLASSES, "extreme": st.booleans()}), _loss_inputs),
}
