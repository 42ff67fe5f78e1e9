"""Comparison of a returned value with the expected one, in the style of `torch.testing.assert_close`,
with a diagnosis of the likely cause where the grader can tell (transpose, sign, a factor of N...).
"""
from __future__ import annotations

import numpy as np

from .sandbox.protocol import Opaque, Tensor


def tolerances(dtype, rtol64: float, atol64: float) -> tuple[float, float]:
    """Tolerances that follow the precision of the value that came back."""
    dtype = np.dtype(dtype) if dtype is not None else np.dtype(np.float64)
    if dtype.kind == "f" and dtype.itemsize <= 2:
        return max(rtol64, 1e-2), max(atol64, 1e-2)
    if dtype.kind == "f" and dtype.itemsize <= 4:
        return max(rtol64, 2e-4), max(atol64, 2e-5)
    return rtol64, atol64


def least_precise(*values):
    """The float dtype of lowest precision among `values` (arrays or dtypes): what a result computed
    through all of them can be expected to hold."""
    dtypes = [np.dtype(getattr(v, "dtype", v)) for v in values if v is not None and getattr(v, "dtype", v) is not None]
    floats = [d for d in dtypes if d.kind == "f"]
    return min(floats, key=lambda d: d.itemsize) if floats else None


def describe_type(value) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of shape {value.shape} and dtype {value.dtype or value.array.dtype}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, Opaque):
        return f"a {value.type} ({value.repr[:60]})"
    if hasattr(value, "ref") and hasattr(value, "handle"):
        return f"an object of type {value.type}"
    return f"a {type(value).__name__} ({str(value)[:60]})"


def as_array(value) -> np.ndarray | None:
    """Numbers, numeric arrays and tensors -> ndarray; anything else -> None."""
    if isinstance(value, Tensor):
        value = value.array
    if isinstance(value, np.ndarray):
        return value if value.dtype.kind in "biuf" else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return np.asarray(value, dtype=float)
    return None


def _index(flat: int, shape) -> str:
    if not shape:
        return "()"
    return str(tuple(int(i) for i in np.unravel_index(flat, shape)))


def _named_factor(name: str, c: float, batch: int | None, numbers: dict[str, float]) -> str | None:
    """The factor `c` said in the example's own numbers (a batch size, a learning rate: `numbers`), when
    it is one of them, its inverse, or the ratio of two, N (the batch's size) included."""
    named = {k: float(v) for k, v in numbers.items() if v and float(v) != 1}
    same = lambda x: np.isclose(c, x, rtol=1e-3)  # noqa: E731
    for key, value in named.items():
        if batch and batch > 1 and value != batch and same(batch / value):
            return (f"{name} is off by a factor of {batch}/{value:g} = {batch / value:.4g}: it divides by {key} = {value:g} "
                    f"where the batch holds N = {batch} examples (divide by N)")
        if same(value):
            return f"{name} is {key} = {value:g} times the expected value (an extra factor of {key}?)"
        if same(1 / value):
            return f"{name} is the expected value divided by {key} = {value:g} (an extra division by {key}?)"
    for (k1, v1), (k2, v2) in ((a, b) for a in named.items() for b in named.items() if a[0] != b[0]):
        if same(v1 / v2):
            return f"{name} is off by a factor of {k1}/{k2} = {v1:g}/{v2:g} = {v1 / v2:.4g}"
    return None


def likely_cause(name: str, actual: np.ndarray, expected: np.ndarray, batch: int | None = None,
                 numbers: dict[str, float] | None = None) -> str | None:
    """A short explanation of a mismatch, or None when no simple pattern fits. numbers: the example's
    named quantities a factor may come from (batch sizes, learning rates)."""
    a, e = actual.astype(float), expected.astype(float)
    if a.shape != e.shape:
        if a.shape == e.shape[::-1] and a.ndim == 2:
            return f"{name} is transposed: it has shape {a.shape}, expected {e.shape}"
        if e.ndim == 2 and e.shape[0] == 1 and a.shape == e.shape[1:]:
            return f"{name} lost its leading axis of size 1: keep the shape {e.shape} (keepdims=True)"
        if e.ndim == 1 and a.ndim == 2 and a.shape[1] == e.shape[0] and a.shape[0] > 1:
            return (f"{name} has one row per example ({a.shape}): sum over the batch axis (dim 0) "
                    f"to get {e.shape}")
        if e.ndim == 2 and e.shape[0] == 1 and a.ndim == 2 and a.shape[1] == e.shape[1] and a.shape[0] > 1:
            return (f"{name} has one row per example ({a.shape}): sum over the batch axis "
                    f"(axis=0, keepdims=True) to get {e.shape}")
        return None
    scale = float(np.sum(e * e))
    if not np.any(a) and np.any(e):
        return f"{name} is all zeros: is it computed at all?"
    if scale == 0:
        return None
    close = lambda x, y: np.allclose(x, y, rtol=1e-3, atol=1e-6 * (np.max(np.abs(y)) + 1e-12))
    if a.ndim == 2 and a.shape[0] == a.shape[1] and a.shape[0] > 1 and close(a, e.T):
        return f"{name} is the transpose of the expected value"
    if close(a, -e):
        return f"{name} has the wrong sign"
    c = float(np.sum(a * e) / scale)
    if c != 0 and not np.isclose(c, 1, rtol=1e-3) and close(a, c * e):
        if batch and batch > 1 and np.isclose(c, batch, rtol=1e-3):
            return (f"{name} is N = {batch} times too large (N is the batch size): "
                    "average over the batch, i.e. divide by N")
        if batch and batch > 1 and np.isclose(c, 1 / batch, rtol=1e-3):
            return f"{name} is N = {batch} times too small (N is the batch size): divide by N only once"
        return _named_factor(name, c, batch, numbers or {}) or f"{name} is off by a constant factor of {c:.4g}"
    return None


def mismatch(name: str, actual, expected, *, rtol: float, atol: float, batch: int | None = None,
             what: str = "expected value", numbers: dict[str, float] | None = None) -> str | None:
    """None when `actual` is close to `expected`, else an explanation naming `name`."""
    e = np.asarray(expected)
    a = as_array(actual)
    if a is None:
        return f"{name} should be an array of shape {e.shape}, but it is {describe_type(actual)}"
    if a.shape != e.shape:
        if a.size == e.size == 1:
            a = a.reshape(e.shape)
        else:
            text = f"{name} has shape {a.shape}, expected {e.shape}"
            cause = likely_cause(name, a, e, batch, numbers)
            return text + (f".\n  Likely cause: {cause}." if cause else ".")
    a64, e64 = a.astype(np.float64).ravel(), e.astype(np.float64).ravel()
    bad_values = ~np.isfinite(a64) & np.isfinite(e64)
    if bad_values.any():
        first = int(np.flatnonzero(bad_values)[0])
        kind = "NaN" if np.isnan(a64.flat[first]) else "infinity"
        return (f"{name} contains {kind} ({int(bad_values.sum())} of {a.size} elements, first at index "
                f"{_index(first, a.shape)}) where a finite value was expected")
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        diff = np.abs(a64 - e64)
        both_inf = np.isinf(e64) & (a64 == e64)
        diff[both_inf] = 0
        rel = diff / np.abs(e64)
        rel[diff == 0] = 0
    bad = ~(diff <= atol + rtol * np.abs(e64))
    if not bad.any():
        return None
    n_bad, n = int(bad.sum()), a.size
    i_abs, i_rel = int(np.nanargmax(diff)), int(np.nanargmax(np.where(np.isnan(rel), -1, rel)))
    lines = [f"{name} does not match the {what} (shape {e.shape}, {a.dtype}):",
             f"  Mismatched elements: {n_bad} / {n} ({100 * n_bad / n:.1f}%)",
             f"  Greatest absolute difference: {diff.flat[i_abs]:.4g} at index {_index(i_abs, e.shape)} "
             f"(up to {atol:.1g} allowed)",
             f"  Greatest relative difference: {rel.flat[i_rel]:.4g} at index {_index(i_rel, e.shape)} "
             f"(up to {rtol:.1g} allowed)"]
    if n <= 12:
        lines.append(f"  Got      {np.array2string(a64, precision=5, max_line_width=200)}")
        lines.append(f"  Expected {np.array2string(e64, precision=5, max_line_width=200)}")
    cause = likely_cause(name, a, e, batch, numbers)
    if cause:
        lines.append(f"  Likely cause: {cause}.")
    return "\n".join(lines)
