"""Feedback names the array, reports mismatches as assert_close does, and says the likely cause."""
from __future__ import annotations

import numpy as np

from grader.compare import likely_cause, mismatch, tolerances

rng = np.random.default_rng(0)
E = rng.standard_normal((4, 3))
SQUARE = rng.standard_normal((3, 3))


def test_close_values_pass():
    assert mismatch("dW1", E + 1e-12, E, rtol=1e-6, atol=1e-9) is None


def test_message_reports_counts_and_greatest_differences_with_index():
    got = E.copy()
    got[1, 2] += 0.5
    text = mismatch("dW2", got, E, rtol=1e-6, atol=1e-9)
    assert "dW2 does not match" in text
    assert "Mismatched elements: 1 / 12 (8.3%)" in text
    assert "Greatest absolute difference: 0.5 at index (1, 2)" in text


def test_diagnoses():
    assert "transposed" in mismatch("dW1", E.T, E, rtol=1e-6, atol=1e-9)
    assert "transpose" in likely_cause("dW1", SQUARE.T, SQUARE)
    assert "wrong sign" in likely_cause("db1", -E, E)
    assert "N = 4 times too large" in likely_cause("dW1", 4 * E, E, batch=4)
    assert "constant factor of 2.5" in likely_cause("dW1", 2.5 * E, E, batch=4)
    assert "all zeros" in likely_cause("db1", np.zeros_like(E), E)
    assert "sum over the batch axis" in mismatch("db1", np.ones((5, 3)), np.ones((1, 3)), rtol=0, atol=0)
    assert "keepdims" in mismatch("db1", np.ones(3), np.ones((1, 3)), rtol=0, atol=0)


def test_nan_and_wrong_types_are_named():
    assert "contains NaN" in mismatch("Z2", np.full(3, np.nan), np.ones(3), rtol=1e-6, atol=0)
    assert "but it is a str" in mismatch("Z2", "oops", np.ones(3), rtol=1e-6, atol=0)


def test_tolerances_follow_the_returned_dtype():
    assert tolerances(np.float64, 1e-6, 1e-9) == (1e-6, 1e-9)
    assert tolerances(np.float32, 1e-6, 1e-9) == (2e-4, 2e-5)


def test_a_factor_is_said_in_the_examples_own_numbers():
    expected = np.array([[0.5, -1.0], [2.0, 0.25]])
    numbers = {"batch_size": 64, "lr": 0.1, "momentum": 0.9}
    assert "it divides by batch_size = 64 where the batch holds N = 3 examples" in likely_cause(
        "dW", expected * 3 / 64, expected, batch=3, numbers=numbers)
    assert "dW is lr = 0.1 times the expected value" in likely_cause("dW", expected * 0.1, expected, 3, numbers)
    assert "divided by batch_size = 64" in likely_cause("dW", expected / 64, expected, 3, numbers)
    assert "lr/momentum = 0.1/0.9" in likely_cause("dW", expected * 0.1 / 0.9, expected, 3, numbers)
    # No named number fits: the plain factor.
    assert likely_cause("dW", expected * 0.37, expected, 3, numbers) == "dW is off by a constant factor of 0.37"
