"""Checks take a handle and never start a process: they run in-process against LocalHandle, which
has the worker's copy semantics. Here the reference grades itself and a broken copy, with no worker."""
from __future__ import annotations

import pytest

from grader.checks import CHECKS, CheckFailed, Context
from grader.sandbox.handle import LocalHandle

from .conftest import REFERENCE_MLP, mutate


def _ctx(mlp_rubric, item_id, student):
    item = mlp_rubric.item(item_id)
    return Context(item_id=item.id, params=item.params, student=student,
                   reference=LocalHandle.from_file(REFERENCE_MLP), solution_source=REFERENCE_MLP.read_text())


@pytest.mark.parametrize("item_id", ["relu", "softmax", "forward", "backward_tanh", "update", "init_glorot",
                                     "count_parameters", "numerical_gradient", "training", "best_config"])
def test_the_reference_passes_each_check_in_process(mlp_rubric, item_id):
    item = mlp_rubric.item(item_id)
    outcome = CHECKS[item.check].func(_ctx(mlp_rubric, item_id, LocalHandle.from_file(REFERENCE_MLP, "student")))
    assert outcome.message


def test_a_broken_copy_fails_in_process(mlp_rubric, tmp_path, reference_source):
    broken = tmp_path / "solution.py"
    broken.write_text(mutate(reference_source, 'grads[f"dW{l}"] = cache[f"Z{l - 1}"].T @ dA',
                             'grads[f"dW{l}"] = 2 * cache[f"Z{l - 1}"].T @ dA'))
    with pytest.raises(CheckFailed, match="constant factor of 2"):
        CHECKS["mlp_backward"].func(_ctx(mlp_rubric, "backward_relu", LocalHandle.from_file(broken, "student")))


def test_local_handle_copies_arrays_both_ways(reference_source, tmp_path):
    import numpy as np
    handle = LocalHandle.from_file(REFERENCE_MLP, "student")
    nn = handle.new("NN", hidden_dims=(2,), input_dim=2, n_classes=2, seed=0)
    weights = nn.get("weights")
    weights["W1"][:] = 99
    assert not np.any(nn.get("weights")["W1"] == 99)


def test_an_update_that_steps_along_the_biases_themselves_is_caught(mlp_rubric, tmp_path, reference_source):
    """The upstream gradients a check draws are independent of the weights it draws: with one stream
    for both, db was exactly 2b and a step along b itself passed."""
    path = tmp_path / "solution.py"
    path.write_text(mutate(reference_source, 'self.weights[f"b{l}"] -= self.lr * grads[f"db{l}"]',
                           'self.weights[f"b{l}"] -= self.lr * 2 * self.weights[f"b{l}"]'))
    with pytest.raises(CheckFailed, match="b1 after update"):
        CHECKS["mlp_update"].func(_ctx(mlp_rubric, "update", LocalHandle.from_file(path, "solution")))
