"""Summary plots of a batch (PNG, matplotlib without a display): the score histogram and each item's
pass rate, so an instructor sees at a glance which part of the assignment the class failed."""
from __future__ import annotations

from pathlib import Path


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def score_histogram(totals: list[float], max_score: float, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = [max_score * k / 20 for k in range(21)]
    ax.hist(totals, bins=bins, color="#4c72b0", edgecolor="white")
    ax.set_xlabel(f"score (out of {max_score:g})")
    ax.set_ylabel("submissions")
    ax.set_title(f"Scores of {len(totals)} submissions")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def pass_rates(rates: dict[str, float], path: Path) -> Path:
    plt = _pyplot()
    ids = list(rates)
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(ids) + 1.2))
    values = [100 * rates[i] for i in ids]
    ax.barh(ids[::-1], values[::-1], color=["#c44e52" if v < 50 else "#55a868" for v in values[::-1]])
    ax.set_xlim(0, 100)
    ax.set_xlabel("submissions passing the item (%)")
    ax.set_title("Pass rate of each item")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
