"""The convnet reference is right: against naive loops, and against torch in float64 (when installed)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import strategies as S
from grader.sandbox.handle import load_module

from . import oracles
from .conftest import ROOT

ref = load_module(ROOT / "reference" / "convnet" / "solution.py", "convnet_reference_under_test")
FAST = settings(max_examples=40, derandomize=True, database=None, deadline=None)


def _conv(example):
    rng = S.rng_for(example)
    kw = example["kwargs"]
    layer = ref.Conv2d(**kw, rng=rng)
    x = rng.standard_normal(tuple(example["input_shape"]))
    return layer, x, kw


@FAST
@given(S.LAYERS["conv2d"].examples)
def test_conv2d_matches_naive_loops(example):
    layer, x, kw = _conv(example)
    out = layer.forward(x)
    W, b = layer.params["W"], layer.params["b"]
    np.testing.assert_allclose(out, oracles.conv2d_forward(x, W, b, kw["stride"], kw["padding"]), atol=1e-12)
    g = np.random.default_rng(1).standard_normal(out.shape)
    dx, dW, db = oracles.conv2d_backward(x, W, g, kw["stride"], kw["padding"])
    np.testing.assert_allclose(layer.backward(g), dx, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], dW, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], db, atol=1e-12)


@FAST
@given(S.LAYERS["maxpool2d"].examples)
def test_maxpool_matches_naive_loops(example):
    kw = example["kwargs"]
    x = S.LAYERS["maxpool2d"].make_input(example)
    layer = ref.MaxPool2d(**kw)
    stride = kw["stride"] or kw["kernel_size"]
    out = layer.forward(x)
    np.testing.assert_array_equal(out, oracles.maxpool_forward(x, kw["kernel_size"], stride))
    g = np.random.default_rng(2).standard_normal(out.shape)
    np.testing.assert_allclose(layer.backward(g), oracles.maxpool_backward(x, kw["kernel_size"], stride, g), atol=1e-12)


torch = pytest.importorskip("torch", reason="torch is needed to compare with torch.nn.functional")
F = torch.nn.functional


@FAST
@given(S.LAYERS["conv2d"].examples)
def test_conv2d_matches_torch_in_float64(example):
    layer, x, kw = _conv(example)
    out = layer.forward(x)
    g = np.random.default_rng(3).standard_normal(out.shape)
    dx = layer.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    Wt = torch.tensor(layer.params["W"], requires_grad=True)
    bt = torch.tensor(layer.params["b"], requires_grad=True)
    ot = F.conv2d(xt, Wt, bt, stride=kw["stride"], padding=kw["padding"])
    ot.backward(torch.tensor(g))
    np.testing.assert_allclose(out, ot.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], Wt.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], bt.grad.numpy(), atol=1e-12)


@FAST
@given(st.integers(1, 6), st.integers(2, 7), st.integers(0, 2**32 - 1))
def test_batchnorm_matches_torch_in_train_and_eval(d, n, seed):
    rng = np.random.default_rng(seed)
    ours, theirs = ref.BatchNorm1d(d, momentum=0.2), torch.nn.BatchNorm1d(d, momentum=0.2).double()
    for _ in range(3):
        x = rng.standard_normal((n, d)) * 2 + 1
        xt = torch.tensor(x, requires_grad=True)
        out, ot = ours.forward(x), theirs(xt)
        g = rng.standard_normal(out.shape)
        ot.backward(torch.tensor(g))
        np.testing.assert_allclose(out, ot.detach().numpy(), atol=1e-10)
        np.testing.assert_allclose(ours.backward(g), xt.grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), atol=1e-12)
    ours.eval(), theirs.eval()
    x = rng.standard_normal((n, d))
    np.testing.assert_allclose(ours.forward(x), theirs(torch.tensor(x)).detach().numpy(), atol=1e-10)


@pytest.mark.parametrize("momentum, weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.0, 0.01), (0.9, 0.05)])
def test_sgd_matches_torch_optim_sgd(momentum, weight_decay):
    rng = np.random.default_rng(0)
    lin = ref.Linear(3, 2, rng=rng)
    model, tl = ref.Sequential(lin), torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        tl.weight.copy_(torch.tensor(lin.params["W"].T))
        tl.bias.copy_(torch.tensor(lin.params["b"]))
    opt = ref.SGD(model, 0.1, momentum=momentum, weight_decay=weight_decay)
    topt = torch.optim.SGD(tl.parameters(), lr=0.1, momentum=momentum, weight_decay=weight_decay)
    for _ in range(5):
        gW, gb = rng.standard_normal((3, 2)), rng.standard_normal(2)
        lin.grads = {"W": gW, "b": gb}
        tl.weight.grad, tl.bias.grad = torch.tensor(gW.T.copy()), torch.tensor(gb)
        opt.step()
        topt.step()
        np.testing.assert_allclose(lin.params["W"], tl.weight.detach().numpy().T, atol=1e-14)
        np.testing.assert_allclose(lin.params["b"], tl.bias.detach().numpy(), atol=1e-14)


def test_softmax_cross_entropy_matches_torch_up_to_1e3():
    rng = np.random.default_rng(0)
    logits, labels = rng.uniform(-1000, 1000, (6, 4)), rng.integers(0, 4, 6)
    ce = ref.SoftmaxCrossEntropy()
    zt = torch.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(zt, torch.tensor(labels))
    loss.backward()
    assert abs(ce.forward(logits, labels) - loss.item()) < 1e-9
    np.testing.assert_allclose(ce.backward(), zt.grad.numpy(), atol=1e-12)
