"""The `convnet` assignment's promises: the reference scores 100 (deterministically), the template 0,
every realistic bug loses the item that names it, and correct variants keep every point."""
from __future__ import annotations


import pytest

from grader import api
from grader.rubric import load_assignment

from .conftest import ROOT, by_id, load_mutants, mutate, stable_json, without_gate

REFERENCE = ROOT / "reference" / "convnet" / "solution.py"
TEMPLATE = ROOT / "student_template" / "convnet" / "solution.py"


@pytest.fixture(scope="module")
def convnet_rubric():
    return load_assignment("convnet")


@pytest.fixture(scope="module")
def fast_convnet(convnet_rubric):
    return without_gate(convnet_rubric)


@pytest.fixture(scope="module")
def convnet_source():
    return REFERENCE.read_text()




@pytest.mark.slow
def test_reference_scores_full_marks_deterministically(convnet_rubric):
    first = api.grade(REFERENCE, rubric=convnet_rubric)
    assert {i.id: i.message for i in first.items if not i.passed} == {}
    assert first.score == 100
    assert first.items[-1].details["accuracy"] >= 0.78
    second = api.grade(REFERENCE, rubric=without_gate(convnet_rubric))
    assert stable_json(second) == stable_json(first.__class__(**{**first.__dict__, "items": first.items[:-1]}))


def test_template_scores_zero_with_a_message_on_every_item(convnet_rubric):
    result = api.grade(TEMPLATE, rubric=convnet_rubric)
    assert result.score == 0 and result.error is None
    for item in result.items:
        assert item.message.strip()
        if item.max_points:
            assert item.status == "failed", item.id


MUTANTS = load_mutants("convnet")  # reference/convnet/mutants.yaml


@pytest.mark.parametrize("name, old, new, items, phrase", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_mutant_loses_the_item_that_names_the_bug(name, old, new, items, phrase, convnet_source, fast_convnet,
                                                  grade_source):
    result = by_id(grade_source(mutate(convnet_source, old, new), fast_convnet, only=items))
    for item in items:
        assert result[item].status == "failed", f"{name}: {item} passed: {result[item].message}"
    assert phrase in result[items[0]].message, result[items[0]].message


def test_at_least_fifteen_convnet_mutants():
    assert len(MUTANTS) >= 15


NAIVE_LOOPS = '''

def _conv_forward_loops(self, x):
    N, C, H, W = x.shape
    O, _, k, _ = self.params["W"].shape
    p, s = self.padding, self.stride
    self.x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    Ho, Wo = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    out = np.zeros((N, O, Ho, Wo))
    for n in range(N):
        for o in range(O):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, o, i, j] = np.sum(self.x[n, :, i * s:i * s + k, j * s:j * s + k] * self.params["W"][o])
    return out + self.params["b"][None, :, None, None]


def _conv_backward_loops(self, grad_out):
    k, p, s = self.params["W"].shape[2], self.padding, self.stride
    dxp, dW = np.zeros_like(self.x), np.zeros_like(self.params["W"])
    for n in range(grad_out.shape[0]):
        for o in range(grad_out.shape[1]):
            for i in range(grad_out.shape[2]):
                for j in range(grad_out.shape[3]):
                    dW[o] += grad_out[n, o, i, j] * self.x[n, :, i * s:i * s + k, j * s:j * s + k]
                    dxp[n, :, i * s:i * s + k, j * s:j * s + k] += grad_out[n, o, i, j] * self.params["W"][o]
    self.grads = {"W": dW, "b": grad_out.sum(axis=(0, 2, 3))}
    return dxp[:, :, p:dxp.shape[2] - p, p:dxp.shape[3] - p]


Conv2d.forward = _conv_forward_loops
Conv2d.backward = _conv_backward_loops
'''

FLOAT32_INSIDE = '''

_conv_forward64 = Conv2d.forward


def _conv_forward32(self, x):
    saved = self.params["W"]
    self.params["W"] = saved.astype(np.float32)
    try:
        return _conv_forward64(self, np.asarray(x, dtype=np.float32)).astype(np.float32)
    finally:
        self.params["W"] = saved


Conv2d.forward = _conv_forward32
'''

EINSUM_IM2COL = '''

def _conv_forward_einsum(self, x):
    p = self.padding
    self.x_shape = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    self.windows = _windows(xp, self.k, self.stride)
    return np.einsum("nchwij,ocij->nohw", self.windows, self.params["W"]) + self.params["b"][None, :, None, None]


def _conv_backward_einsum(self, grad_out):
    N, C, H, W = self.x_shape
    p, s, k = self.padding, self.stride, self.k
    Ho, Wo = grad_out.shape[2:]
    self.grads = {"W": np.einsum("nchwij,nohw->ocij", self.windows, grad_out), "b": grad_out.sum(axis=(0, 2, 3))}
    dwin = np.einsum("nohw,ocij->nchwij", grad_out, self.params["W"])
    dxp = np.zeros((N, C, H + 2 * p, W + 2 * p))
    for i in range(k):
        for j in range(k):
            dxp[:, :, i:i + s * Ho:s, j:j + s * Wo:s] += dwin[..., i, j]
    return dxp[:, :, p:p + H, p:p + W]


Conv2d.forward = _conv_forward_einsum
Conv2d.backward = _conv_backward_einsum
'''

LAST_MAX_TIE_RULE = '''

def _pool_forward_last(self, x):
    self.x_shape = x.shape
    cols = _windows(x, self.k, self.stride)
    flat = cols.reshape(*cols.shape[:4], -1)
    self.argmax = flat.shape[-1] - 1 - flat[..., ::-1].argmax(axis=-1)
    return np.take_along_axis(flat, self.argmax[..., None], axis=-1)[..., 0]


MaxPool2d.forward = _pool_forward_last
'''

COPYING_CONTAINER = """

import copy as _copy


class Sequential(Sequential):
    \"\"\"Keeps copies of the layers it is given; predicts in float32, in batches of 64.\"\"\"

    def __init__(self, *layers):
        super().__init__(*[_copy.deepcopy(layer) for layer in layers])


def predict(model, X):
    model.eval()
    return np.concatenate([model.forward(X[s:s + 64].astype(np.float32)).argmax(axis=1)
                           for s in range(0, len(X), 64)])
"""

VARIANTS = {
    "a container that copies its layers, float32 predict": COPYING_CONTAINER,
    "naive loops": NAIVE_LOOPS,
    "float32 inside": FLOAT32_INSIDE,
    "a different but equivalent im2col (einsum)": EINSUM_IM2COL,
    "pooling with the last maximum on tie-free inputs": LAST_MAX_TIE_RULE,
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_correct_variant_scores_full_marks(name, convnet_source, fast_convnet, grade_source):
    result = grade_source(convnet_source + VARIANTS[name], fast_convnet)
    assert {i.id: i.message for i in result.items if not i.passed} == {}
