"""Hypothesis strategies for the checks: shapes and architectures are drawn (and shrunk) by
hypothesis; the numbers inside arrays come from `numpy.random.default_rng(seed)` with a drawn
seed, so examples are cheap, reproducible and described by a few integers.

Each `inputs` generator maps an example dict to the arguments of the call under test.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
from hypothesis import strategies as st

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
KINK_MARGIN = 0.05


def rng_for(example: dict, stream: str = "") -> np.random.Generator:
    """The example's generator; another `stream` gives an independent one from the same seed, so that
    what a check draws (inputs, upstream gradients) is not a function of the weights it also drew."""
    if not stream:
        return np.random.default_rng(example["seed"])
    return np.random.default_rng([example["seed"], zlib.crc32(stream.encode())])


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


# --- layers following the contract (params, grads, training, forward, backward) ---

@dataclass(frozen=True)
class LayerSpec:
    """How to draw one layer under test: its class, constructor arguments and input, as an example dict
    {"kwargs": ..., "input_shape": ..., "seed": ..., **extra}; `make_input` turns it into x."""
    cls: str
    examples: st.SearchStrategy
    make_input: Callable[[dict], np.ndarray]
    uses_rng: bool = False          # the constructor takes rng=
    training: bool = True           # the mode the layer is checked in
    explicit: tuple = ()            # examples always tried first: the cases a bug hides in


def _normal_input(example):
    return rng_for(example).standard_normal(tuple(example["input_shape"]))


def _kink_free_input(example):
    return away_from_zero(_normal_input(example))


def _tie_free_input(example):
    """Distinct values 0.1 apart: no ties in any pooling window, even after a finite-difference step."""
    shape = tuple(example["input_shape"])
    values = rng_for(example).permutation(int(np.prod(shape))) * 0.1
    return (values - values.mean()).reshape(shape)


@st.composite
def _conv_examples(draw):
    k = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 3))
    padding = draw(st.integers(0, min(2, k - 1) if k > 1 else 1))
    low = max(1, k - 2 * padding)
    h, w = draw(st.integers(low, low + 5)), draw(st.integers(low, low + 5))
    c_in, c_out, n = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return {"kwargs": {"in_channels": c_in, "out_channels": c_out, "kernel_size": k, "stride": stride,
                       "padding": padding},
            "input_shape": [n, c_in, h, w], "seed": draw(SEEDS)}


@st.composite
def _pool_examples(draw):
    k = draw(st.integers(1, 3))
    stride = draw(st.sampled_from([None, 1, 2, 3]))
    h, w = draw(st.integers(k, k + 5)), draw(st.integers(k, k + 5))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return {"kwargs": {"kernel_size": k, "stride": stride}, "input_shape": [n, c, h, w], "seed": draw(SEEDS)}


def _linear_examples():
    return st.fixed_dictionaries({
        "kwargs": st.fixed_dictionaries({"in_features": st.integers(1, 6), "out_features": st.integers(1, 6)}),
        "n": st.integers(1, 5), "seed": SEEDS,
    }).map(lambda e: {**e, "input_shape": [e["n"], e["kwargs"]["in_features"]]})


def _elementwise_examples():
    return st.fixed_dictionaries({"kwargs": st.just({}), "input_shape": _SHAPES, "seed": SEEDS})


def _flatten_examples():
    return st.fixed_dictionaries({"kwargs": st.just({}), "input_shape": st.lists(st.integers(1, 4), min_size=2,
                                                                                  max_size=4), "seed": SEEDS})


def _batchnorm_examples():
    return st.fixed_dictionaries({
        "kwargs": st.fixed_dictionaries({"num_features": st.integers(1, 5)}),
        "n": st.integers(2, 6), "seed": SEEDS,
    }).map(lambda e: {**e, "input_shape": [e["n"], e["kwargs"]["num_features"]]})


LAYERS = {
    "linear": LayerSpec("Linear", _linear_examples(), _normal_input, uses_rng=True),
    "relu": LayerSpec("ReLU", _elementwise_examples(), _kink_free_input),
    "sigmoid": LayerSpec("Sigmoid", _elementwise_examples(), _normal_input),
    "tanh": LayerSpec("Tanh", _elementwise_examples(), _normal_input),
    "conv2d": LayerSpec("Conv2d", _conv_examples(), _normal_input, uses_rng=True, explicit=(
        {"kwargs": {"in_channels": 2, "out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1},
         "input_shape": [2, 2, 5, 6], "seed": 0},)),
    "maxpool2d": LayerSpec("MaxPool2d", _pool_examples(), _tie_free_input, explicit=(
        {"kwargs": {"kernel_size": 2, "stride": None}, "input_shape": [1, 2, 4, 6], "seed": 0},)),
    "flatten": LayerSpec("Flatten", _flatten_examples(), _normal_input),
    "batchnorm_train": LayerSpec("BatchNorm1d", _batchnorm_examples(), _normal_input),
    "batchnorm_eval": LayerSpec("BatchNorm1d", _batchnorm_examples(), _normal_input, training=False),
}


def layer_params(example: dict, shapes: dict[str, tuple]) -> dict[str, np.ndarray]:
    """Parameters of the drawn shapes, O(1) outputs; the grader's own, not the layer's initialisation."""
    rng = np.random.default_rng(example["seed"] + 7)
    out = {}
    for name, shape in shapes.items():
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        out[name] = rng.standard_normal(shape) / np.sqrt(fan_in)
    return out


# --- module-level functions: name -> (strategy of examples, example -> (args, kwargs)) ---

@st.composite
def _conv_shape_args(draw):
    k = draw(st.integers(1, 7))
    s, p = draw(st.integers(1, 4)), draw(st.integers(0, 3))
    low = max(1, k - 2 * p)
    return {"h": draw(st.integers(low, 40)), "w": draw(st.integers(low, 40)), "kernel_size": k, "stride": s,
            "padding": p}


@st.composite
def _receptive_args(draw):
    depth = draw(st.integers(1, 5))
    kernels = draw(st.lists(st.integers(1, 7), min_size=depth, max_size=depth))
    strides = draw(st.lists(st.integers(1, 3), min_size=depth, max_size=depth))
    return {"kernel_sizes": kernels, "strides": strides}


FUNCTION_INPUTS = {
    "conv_output_shape": (_conv_shape_args(), lambda e: ((e["h"], e["w"], e["kernel_size"]),
                                                         {"stride": e["stride"], "padding": e["padding"]})),
    "receptive_field": (_receptive_args(), lambda e: ((list(e["kernel_sizes"]), list(e["strides"])), {})),
}
