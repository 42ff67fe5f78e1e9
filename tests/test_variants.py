"""Correct but different solutions get every point: float32 inside, loops instead of vectorisation,
another numerically stable softmax, another cache layout with extra keys."""
from __future__ import annotations

import pytest

from .conftest import mutate

FLOAT32_INSIDE = [
    ('cache = {"Z0": x}', 'cache = {"Z0": np.asarray(x, dtype=np.float32)}'),
    ('A = cache[f"Z{l - 1}"] @ self.weights[f"W{l}"] + self.weights[f"b{l}"]',
     'A = cache[f"Z{l - 1}"] @ self.weights[f"W{l}"].astype(np.float32) + self.weights[f"b{l}"].astype(np.float32)'),
]

LOOPS = '''

def _forward_loops(self, x):
    cache = {"Z0": x}
    L = len(self.hidden_dims) + 1
    for l in range(1, L + 1):
        W, b, Z = self.weights[f"W{l}"], self.weights[f"b{l}"], cache[f"Z{l - 1}"]
        A = np.zeros((Z.shape[0], W.shape[1]))
        for n in range(Z.shape[0]):
            for j in range(W.shape[1]):
                total = b[0, j]
                for i in range(W.shape[0]):
                    total += Z[n, i] * W[i, j]
                A[n, j] = total
        cache[f"A{l}"] = A
        cache[f"Z{l}"] = self.activation(A) if l < L else self.softmax(A)
    return cache


def _backward_loops(self, cache, labels):
    L = len(self.hidden_dims) + 1
    n = labels.shape[0]
    grads = {}
    dA = (cache[f"Z{L}"] - labels) / n
    for l in range(L, 0, -1):
        Z = cache[f"Z{l - 1}"]
        dW = np.zeros(self.weights[f"W{l}"].shape)
        db = np.zeros(self.weights[f"b{l}"].shape)
        for k in range(n):
            dW += np.outer(Z[k], dA[k])
            db[0] += dA[k]
        grads[f"dW{l}"], grads[f"db{l}"] = dW, db
        if l > 1:
            dA = (dA @ self.weights[f"W{l}"].T) * self.activation(cache[f"A{l - 1}"], grad=True)
    return grads


NN.forward = _forward_loops
NN.backward = _backward_loops
'''

LOGSUMEXP_SOFTMAX = '''

def _softmax_logsumexp(self, x):
    m = np.max(x, axis=-1, keepdims=True)
    log_norm = m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))
    return np.exp(x - log_norm)


NN.softmax = _softmax_logsumexp
'''

EXTRA_CACHE_KEYS = '''

def _forward_extra(self, x):
    cache = {"Z0": x, "layers": len(self.hidden_dims) + 1}
    L = cache["layers"]
    for l in range(1, L + 1):
        A = cache[f"Z{l - 1}"] @ self.weights[f"W{l}"] + self.weights[f"b{l}"]
        cache[f"A{l}"] = A
        cache[f"Z{l}"] = self.activation(A) if l < L else self.softmax(A)
        cache[f"dZ{l}"] = self.activation(A, grad=True) if l < L else None
    return cache


def _backward_extra(self, cache, labels):
    L = cache["layers"]                      # needs a key that only this forward writes
    dA = (cache[f"Z{L}"] - labels) / labels.shape[0]
    grads = {}
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = cache[f"Z{l - 1}"].T @ dA
        grads[f"db{l}"] = dA.sum(axis=0, keepdims=True)
        grads[f"dA{l}"] = dA
        if l > 1:
            dA = (dA @ self.weights[f"W{l}"].T) * cache[f"dZ{l - 1}"]
    return grads


NN.forward = _forward_extra
NN.backward = _backward_extra
'''


def _float32(source: str) -> str:
    for old, new in FLOAT32_INSIDE:
        source = mutate(source, old, new)
    return source


VARIANTS = {
    "float32 inside": _float32,
    "loops instead of vectorisation": lambda s: s + LOOPS,
    "another stable softmax (log-sum-exp)": lambda s: s + LOGSUMEXP_SOFTMAX,
    "another cache layout with extra keys": lambda s: s + EXTRA_CACHE_KEYS,
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_correct_variant_scores_full_marks(name, reference_source, fast_rubric, grade_source):
    result = grade_source(VARIANTS[name](reference_source), fast_rubric)
    failed = {i.id: i.message for i in result.items if not i.passed}
    assert failed == {}
    assert result.score == result.max_score
