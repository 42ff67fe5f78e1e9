"""What every experiment shares: the run's settings, its outcome, the files it writes, the data.

An experiment is a function `run(ctx: Context) -> Outcome`. The command line (`__main__.py`) writes the
outcome as `NAME.csv` (every number measured, one row per configuration and epoch), `NAME.png` (the
figure) and `NAME.md` (the summary table, the notes, the device and the time taken), and prints the
table. Nothing here imports torch; `torch_setup` does, for the experiments that train in PyTorch.
"""
from __future__ import annotations

import csv
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader import data

SEED = 20261122  # every experiment's generators derive from it: same command, same numbers


class Skipped(Exception):
    """The experiment cannot run on this machine (its data is missing); the message says what to do."""


@dataclass(frozen=True)
class Context:
    """quick: the reduced version the tests run (small data, few epochs), seconds rather than minutes."""
    out: Path
    device: str = "auto"
    quick: bool = False
    data_root: str | None = None
    seed: int = SEED

    def pick(self, full, quick):
        """The full run's value, or the quick run's."""
        return quick if self.quick else full


@dataclass
class Outcome:
    """columns/rows: the CSV (every measurement); summary/summary_rows: the printed table;
    figure: a matplotlib Figure; notes: sentences printed under the table; device: where it ran."""
    columns: list[str]
    rows: list[list]
    summary: list[str]
    summary_rows: list[list]
    figure: object
    notes: list[str] = field(default_factory=list)
    device: str = "CPU (NumPy)"


def fmt(value) -> str:
    """A table cell: floats to 4 decimals (or 4 significant digits in e-notation), None as "-"."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3e}"
        return f"{value:.4f}"
    return str(value)


def markdown_table(columns: list[str], rows: list[list]) -> str:
    cell = lambda v: fmt(v).replace("|", "\\|")  # noqa: E731 - a | inside a cell would split it
    lines = ["| " + " | ".join(map(cell, columns)) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return "\n".join(lines)


def write(name: str, outcome: Outcome, ctx: Context, seconds: float, command: str) -> dict[str, Path]:
    """Writes NAME.csv, NAME.png and NAME.md under ctx.out -> their paths."""
    ctx.out.mkdir(parents=True, exist_ok=True)
    paths = {kind: ctx.out / f"{name}.{kind}" for kind in ("csv", "png", "md")}
    with open(paths["csv"], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(outcome.columns)
        writer.writerows([[repr(v) if isinstance(v, float) else v for v in row] for row in outcome.rows])
    outcome.figure.savefig(paths["png"], dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(outcome.figure)
    mode = "quick" if ctx.quick else "full"
    text = [markdown_table(outcome.summary, outcome.summary_rows), ""]
    text += [f"- {note}" for note in outcome.notes]
    text += [f"- Run: `{command}` ({mode}), on {outcome.device}, {seconds:.0f} s."]
    paths["md"].write_text("\n".join(text) + "\n")
    return paths


def figure(ncols: int = 1, width: float = 5.5, height: float = 4.0):
    """A figure with `ncols` axes side by side, without a display (the Agg backend)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, list(axes[0])


@dataclass(frozen=True)
class Images:
    """x_train: (N, 1, 28, 28) float32 in [0, 1]; y_train: (N,) int64; the same for the validation set."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray

    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(N, 784) float64 rows, as the NumPy MLP takes them."""
        return (self.x_train.reshape(len(self.x_train), -1).astype(np.float64), self.y_train,
                self.x_val.reshape(len(self.x_val), -1).astype(np.float64), self.y_val)


def fashion_mnist(ctx: Context, train_size: int, val_size: int) -> Images:
    """A deterministic split of Fashion-MNIST's official training set (the test set stays unused)."""
    try:
        split = data.load_split("fashion-mnist", train_size=train_size, val_size=val_size,
                                seed=ctx.seed, data_root=ctx.data_root)
    except data.DataNotFound as e:
        raise Skipped(str(e)) from None
    scale = lambda images: (images.astype(np.float32) / 255.0)[:, None]
    return Images(scale(split.train_images), split.train_labels, scale(split.val_images), split.val_labels)


class Stopwatch:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def torch_setup(ctx: Context):
    """Imports torch with deterministic settings -> (torch, device). `auto` is CUDA when present."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    try:
        import torch
    except ImportError:
        raise Skipped("this experiment trains in PyTorch, which is not installed: pip install -e '.[torch]'") from None
    if ctx.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: this machine has no CUDA device; use --device cpu or auto")
    name = "cuda" if ctx.device == "cuda" or (ctx.device == "auto" and torch.cuda.is_available()) else "cpu"
    if name == "cuda":
        # The CPU kernels used here are deterministic already; asking for it costs 4 s of imports.
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    return torch, torch.device(name)


def device_name(torch, device) -> str:
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)}), torch {torch.__version__}"
    return f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads), torch {torch.__version__}"
