"""Training in PyTorch for the experiments: in-memory batches and one `train` over the reference's
`make_optimizer` and `fit` (reference/torch_cnn). Imported only by the experiments that need torch.

Shapes: x (N, C, H, W) float32, y (N,) int64.
"""
from __future__ import annotations

import numpy as np
import torch

from reference.experiments.common import Stopwatch
from reference.torch_cnn.solution import evaluate, fit, make_optimizer


class Batches:
    """Mini-batches of tensors already on the device, reshuffled each epoch by a seeded generator;
    `transform(x, generator) -> x` (data augmentation) is applied to each training batch."""

    def __init__(self, x, y, batch_size, shuffle, seed, transform=None):
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)
        self.transform = transform

    def __len__(self):
        return -(-len(self.y) // self.batch_size)

    def __iter__(self):
        n = len(self.y)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        order = order.to(self.x.device)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            x = self.x[idx]
            yield (self.transform(x, self.generator) if self.transform else x), self.y[idx]


def tensors(device, *arrays):
    """NumPy arrays -> tensors on the device (images float32, labels int64)."""
    return [torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in arrays]


def train(build, x_train, y_train, x_val, y_val, *, device, seed, epochs, lr, momentum=0.0,
          weight_decay=0.0, batch_size=64, schedule=None, transform=None):
    """Seeds torch, builds the model, trains it with SGD -> (model, history, seconds).

    history: fit's per-epoch train_loss, train_acc (running, in train mode), val_loss, val_acc, plus
    final_train_acc (eval mode, over the whole training set, after the last epoch).
    schedule: optimizer -> learning-rate scheduler stepped once per epoch, or None."""
    torch.manual_seed(seed)
    model = build().to(device)
    optimizer = make_optimizer(model, lr, momentum=momentum, weight_decay=weight_decay)
    train_loader = Batches(x_train, y_train, batch_size, shuffle=True, seed=seed, transform=transform)
    val_loader = Batches(x_val, y_val, 1000, shuffle=False, seed=seed)
    with Stopwatch() as clock:
        history = fit(model, train_loader, val_loader, epochs, optimizer, device,
                      scheduler=schedule(optimizer) if schedule else None)
    history["final_train_acc"] = evaluate(model, Batches(x_train, y_train, 1000, False, seed), device)[1]
    return model, history, clock.seconds


def epoch_rows(label: list, history: dict, seconds: float) -> list[list]:
    """One CSV row per epoch: label..., epoch, train_loss, train_acc, val_loss, val_acc, seconds_per_epoch."""
    n = len(history["val_acc"])
    return [[*label, e + 1, history["train_loss"][e], history["train_acc"][e], history["val_loss"][e],
             history["val_acc"][e], seconds / n] for e in range(n)]


EPOCH_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds_per_epoch"]


def plot_curves(axes, runs: dict[str, dict], keys=("val_acc", "val_loss")):
    """axes: one per key; runs: label -> history. Validation solid, training dashed, same colour."""
    from matplotlib.ticker import MaxNLocator
    for ax, key in zip(axes, keys):
        with_train = key.startswith("val_")
        for i, (label, history) in enumerate(runs.items()):
            epochs = range(1, len(history[key]) + 1)
            ax.plot(epochs, history[key], color=f"C{i}", marker="o", ms=3, label=f"{label}")
            if with_train:
                ax.plot(epochs, history[key.replace("val_", "train_")], color=f"C{i}", ls="--", alpha=0.6)
        ax.set(xlabel="epoch", ylabel=key.replace("_", " ") + (" (dashed: train)" if with_train else ""))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
