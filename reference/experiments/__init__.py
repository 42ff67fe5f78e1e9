"""The experiments the assignments ask students to run, reproduced with the reference solution:

    python -m reference.experiments NAME [--out DIR] [--device auto|cpu|cuda] [--quick]

NAME is one of EXPERIMENTS (or `all`). Each writes NAME.csv, NAME.png and NAME.md under DIR and prints
its table; docs/experiments.md shows the full runs beside the seeds' reported numbers.
"""
from __future__ import annotations

import importlib

# name -> (module, function, the seeds that ask for it). Imported on demand: the NumPy studies never
# import torch.
EXPERIMENTS = {
    "init": ("mlp", "init", "003"),
    "hparam": ("mlp", "hparam", "003"),
    "finite-difference": ("mlp", "finite_difference", "003"),
    "mlp-vs-cnn": ("cnn", "mlp_vs_cnn", "000, 003"),
    "regularisation": ("cnn", "regularisation", "002"),
    "lr-sweep": ("cnn", "lr_sweep", "004"),
    "dropout": ("cnn", "dropout", "004"),
    "normalisation": ("cnn", "normalisation", "000, 001"),
    "equivariance": ("equivariance", "equivariance", "000"),
    "augmentation": ("augmentation", "augmentation", "001"),
}


def experiment(name: str):
    """The function `run(ctx) -> Outcome` of experiment `name`."""
    module, function, _ = EXPERIMENTS[name]
    return getattr(importlib.import_module(f"reference.experiments.{module}"), function)
