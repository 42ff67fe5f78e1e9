"""Initialisation statistics: exact shapes, zero biases, exact zeros or bounds, a Kolmogorov-Smirnov
test on every weight matrix of at least `min_samples` entries (as PyTorch tests its own `init`
functions), the standard deviation within a relative tolerance, and reproducibility from the seed.
"""
from __future__ import annotations

import numpy as np

from ..compare import as_array, describe_type
from .base import CheckFailed, Param, Passed, check


def _glorot_bound(fan_in, fan_out):
    return np.sqrt(6.0 / (fan_in + fan_out))


def _glorot_cause(max_abs, fan_in, fan_out) -> str:
    candidates = {
        "sqrt(6 / fan_in)": np.sqrt(6 / fan_in), "sqrt(6 / fan_out)": np.sqrt(6 / fan_out),
        "sqrt(2 / (fan_in + fan_out))": np.sqrt(2 / (fan_in + fan_out)),
        "sqrt(1 / fan_in)": np.sqrt(1 / fan_in), "1 / (fan_in + fan_out)": 1 / (fan_in + fan_out),
        "sqrt(6) / (fan_in + fan_out)": np.sqrt(6) / (fan_in + fan_out),
    }
    best = min(candidates, key=lambda k: abs(np.log(candidates[k] / max(max_abs, 1e-300))))
    if abs(candidates[best] - max_abs) / candidates[best] < 0.05:
        return f" The values look bounded by {best} = {candidates[best]:.4g}: check which fan you used."
    return ""


@check("mlp_init",
       method=Param(str, choices=("zero", "normal", "glorot")),
       dims=Param(list, [100, 60, 40, 10], help="layer sizes d0..dL of the network built for the test"),
       seed=Param(int, 1234), min_samples=Param(int, 1000), ks_alpha=Param(float, 1e-3),
       std_rtol=Param(float, 0.1))
def mlp_init(ctx):
    """NN(..., init_method=method, seed=seed).weights: shapes, biases, values and their distribution."""
    from scipy import stats  # 100 MB and 1.5 s: paid only by rubrics with initialisation items

    p = ctx.params
    dims = p["dims"]
    kwargs = dict(hidden_dims=tuple(dims[1:-1]), input_dim=dims[0], n_classes=dims[-1],
                  init_method=p["method"], seed=p["seed"])
    weights = ctx.student.new("NN", **kwargs).get("weights")
    call = f"NN(hidden_dims={kwargs['hidden_dims']}, input_dim={dims[0]}, n_classes={dims[-1]}, " \
           f"init_method={p['method']!r}, seed={p['seed']})"
    if not isinstance(weights, dict):
        raise CheckFailed(f"{call}.weights should be a dict, but it is {describe_type(weights)}")

    problems, tested = [], 0
    for l in range(1, len(dims)):
        fan_in, fan_out = dims[l - 1], dims[l]
        for key, shape in ((f"W{l}", (fan_in, fan_out)), (f"b{l}", (1, fan_out))):
            value = as_array(weights.get(key))
            if key not in weights:
                problems.append(f"weights has no key {key!r} (keys: {', '.join(map(str, weights))})")
            elif value is None or value.shape != shape:
                got = describe_type(weights[key])
                hint = " (transposed?)" if value is not None and value.shape == shape[::-1] else ""
                problems.append(f"{key} should have shape {shape}, but it is {got}{hint}")
        if problems:
            continue
        b = as_array(weights[f"b{l}"])
        if np.any(b != 0):
            problems.append(f"b{l} should be all zeros at initialisation, but {int(np.sum(b != 0))} of its "
                            f"{b.size} entries are not (largest |b| = {np.max(np.abs(b)):.3g})")
        W = as_array(weights[f"W{l}"]).astype(np.float64).ravel()
        if p["method"] == "zero":
            if np.any(W != 0):
                problems.append(f"W{l} should be all zeros with init_method='zero', but {int(np.sum(W != 0))} "
                                f"entries are not")
            continue
        if p["method"] == "glorot":
            d = _glorot_bound(fan_in, fan_out)
            if np.max(np.abs(W)) > d:
                problems.append(f"W{l} has values outside the Glorot bound d = sqrt(6 / ({fan_in} + {fan_out})) "
                                f"= {d:.4g}: largest |w| = {np.max(np.abs(W)):.4g}."
                                + _glorot_cause(np.max(np.abs(W)), fan_in, fan_out))
                continue
            dist, expected_std, label = stats.uniform(loc=-d, scale=2 * d), d / np.sqrt(3), f"U(-{d:.4g}, {d:.4g})"
        else:
            dist, expected_std, label = stats.norm(), 1.0, "N(0, 1)"
        if W.size < p["min_samples"]:
            continue
        tested += 1
        std = float(np.std(W))
        if abs(std - expected_std) > p["std_rtol"] * expected_std:
            problems.append(f"W{l} has standard deviation {std:.4g}, expected {expected_std:.4g} for {label} "
                            f"(within {p['std_rtol']:.0%})"
                            + (_glorot_cause(np.max(np.abs(W)), fan_in, fan_out) if p["method"] == "glorot" else ""))
            continue
        result = stats.kstest(W, dist.cdf)
        if result.pvalue < p["ks_alpha"]:
            problems.append(f"W{l} does not look drawn from {label}: Kolmogorov-Smirnov statistic "
                            f"{result.statistic:.4f} on {W.size} samples, p-value {result.pvalue:.2g} "
                            f"(below {p['ks_alpha']:g}); mean {np.mean(W):.4g}, std {std:.4g}")
    if problems:
        raise CheckFailed("\n".join(problems))
    if p["method"] != "zero":
        again = ctx.student.new("NN", **kwargs).get("weights")
        other = ctx.student.new("NN", **{**kwargs, "seed": p["seed"] + 1}).get("weights")
        w1 = as_array(weights["W1"])
        if not isinstance(again, dict) or not np.array_equal(as_array(again.get("W1")), w1):
            raise CheckFailed(f"two networks built with seed={p['seed']} got different W1: draw the "
                              "weights from self.rng = np.random.default_rng(seed)")
        if isinstance(other, dict) and np.array_equal(as_array(other.get("W1")), w1):
            raise CheckFailed("networks built with different seeds got the same W1: draw from self.rng")
    if p["method"] != "zero" and tested == 0:
        raise CheckFailed(f"the rubric's dims give no weight matrix of {p['min_samples']} entries to test")
    return Passed(f"init_method={p['method']!r}: shapes, zero biases and the distribution of "
                  f"{tested or len(dims) - 1} weight matrices are right")
