"""The PyTorch side of the sandbox, in this process: tensors cross the protocol as data, the bridge's
operations, and the grader's NumPy oracles against PyTorch itself (autograd, pooling, the loss)."""
from __future__ import annotations

import numpy as np
import pytest

from grader.checks import backprop as B
from grader.checks import torchlib
from grader.sandbox import protocol

torch = pytest.importorskip("torch")
F = torch.nn.functional
from grader.sandbox import torch_bridge  # noqa: E402 - needs torch


@pytest.mark.parametrize("seed", range(5))
def test_the_graders_backprop_gradients_are_autograds(seed):
    rng = np.random.default_rng(seed)
    example = {"N": int(rng.integers(1, 7)), "nx": int(rng.integers(1, 5)), "nh": int(rng.integers(1, 6)),
               "ny": int(rng.integers(2, 5)), "seed": seed}
    params, X, Y = B.draw(example)
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = torch.tanh(torch.tensor(X) @ leaves["Wh"].T + leaves["bh"])
    logits = h @ leaves["Wy"].T + leaves["by"]
    loss = F.cross_entropy(logits, torch.tensor(Y.argmax(1)))
    loss.backward()
    ours = B.gradients(params, B.forward(params, X), Y)
    assert B.loss(params, X, Y) == pytest.approx(loss.item(), rel=1e-12)
    for key in B.PARAMS:
        np.testing.assert_allclose(ours[key], leaves[key].grad.numpy(), rtol=1e-10, atol=1e-12)


def test_numpy_pooling_and_loss_match_torch():
    x = np.random.default_rng(0).standard_normal((2, 3, 10, 9)).astype(np.float32)
    np.testing.assert_array_equal(torchlib.max_pool2(x), F.max_pool2d(torch.tensor(x), 2).numpy())
    logits, labels = np.random.default_rng(1).standard_normal((7, 4)) * 30, np.array([0, 1, 2, 3, 0, 1, 2])
    assert torchlib.cross_entropy_from_logits(logits, labels) == pytest.approx(
        F.cross_entropy(torch.tensor(logits), torch.tensor(labels)).item(), rel=1e-12)


def test_autograd_watch_sees_every_way_into_the_engine():
    x = torch.ones(3, requires_grad=True)
    with torch_bridge.AutogradWatch() as seen:
        (x * x).sum() + 1  # plain operations do not count
        assert seen.count == 0
        (x * 2).sum().backward()
        torch.autograd.grad((x * 3).sum(), x)
        torch.func.grad(lambda t: (t ** 2).sum())(torch.ones(2))
    assert seen.count == 3
    (x * 2).sum().backward()  # the watch is gone afterwards
    assert seen.count == 3


def _roundtrip(value, tensor=None):
    frame = protocol.encode(value, register=torch_bridge.from_torch, max_bytes=2**30)
    return protocol.decode(frame[8:], tensor=tensor)


def test_tensors_cross_as_data_with_dtype_device_and_autograd_flags():
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3).requires_grad_(True) * 2
    got = _roundtrip({"t": t, "scalar": torch.tensor(1.5, dtype=torch.float64)})
    assert isinstance(got["t"], protocol.Tensor)
    assert got["t"].shape == (2, 3) and got["t"].dtype == "float32" and got["t"].device == "cpu"
    assert got["t"].requires_grad and got["t"].grad_fn == "MulBackward0"
    np.testing.assert_array_equal(got["t"].array, t.detach().numpy())
    assert got["scalar"].shape == () and got["scalar"].dtype == "float64"  # a 0-d tensor stays 0-d
    back = _roundtrip(torchlib.tensor(np.ones((2, 2)), "float32", requires_grad=True), tensor=torch_bridge.to_torch)
    assert isinstance(back, torch.Tensor) and back.dtype == torch.float32 and back.requires_grad


def test_forged_tensor_nodes_are_refused():
    doc = (b'{"t": "tensor", "a": {"t": "float", "v": "nan"}, "dtype": "float32", "device": "cpu", '
           b'"rg": false, "fn": null}')
    with pytest.raises(protocol.ProtocolError, match="must hold an array"):
        protocol.decode(len(doc).to_bytes(4, "big") + doc)
    with pytest.raises(protocol.ProtocolError, match="not allowed"):
        torch_bridge.to_torch(protocol.Tensor(np.zeros(2), "complex128"))


def test_bridge_describes_traces_and_watches_a_model():
    from grader.sandbox.dispatch import Dispatcher
    d = Dispatcher(None, "solution.py", to_wire=torch_bridge.from_torch, extensions=torch_bridge.operations)
    model = d.store(torch_bridge.ProbeNet(batchnorm=True, dropout=0.5))
    tree = d.handle({"op": "describe", "target": model})["ok"]
    assert tree["n_trainable"] == sum(p.numel() for p in torch_bridge.ProbeNet(batchnorm=True).parameters())
    assert [m["type"] for m in tree["modules"] if m["leaf"]][:3] == ["Conv2d", "BatchNorm2d", "ReLU"]
    x = torch.zeros(2, 1, 28, 28)
    traced = d.handle({"op": "trace", "target": model, "input": x, "train": False})["ok"]
    assert [c["type"] for c in traced["calls"]][:2] == ["Conv2d", "BatchNorm2d"]
    assert traced["output"].shape == (2, 10)
