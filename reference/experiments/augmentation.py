"""Seed 001's CIFAR-10 study: random crops and horizontal flips, then a learning-rate schedule, for its
network (`CifarNet`, reference/torch_cnn). Runs only where CIFAR-10 lies under the data root (nothing is
downloaded). Shapes: x (N, 3, 32, 32), logits (N, 10)."""
from __future__ import annotations

import numpy as np

from grader import data
from reference.experiments.common import (
    Context,
    Outcome,
    Skipped,
    device_name,
    figure,
    torch_setup,
)

PAD = 4


def crop_flip(x, generator):
    """x: (B, C, H, W) -> the same shape: each image zero-padded by PAD, cropped back to H x W at a random
    offset, and mirrored left-right with probability 1/2. Batched on x's device; the draws come from the
    (CPU) generator, so a seed fixes them on every device. (torchvision.transforms.v2 does the same per
    image; it is not a dependency of this project.)"""
    import torch
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (PAD, PAD, PAD, PAD))
    dy = torch.randint(0, 2 * PAD + 1, (b,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * PAD + 1, (b,), generator=generator).to(x.device)
    flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]     # (B, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))                       # (B, W)
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, None, :]      # (B, 1, 1, W)
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def augmentation(ctx: Context) -> Outcome:
    """CifarNet with SGD (lr 0.05, momentum 0.9, batch 128): no augmentation; crop + flip; crop + flip
    with a cosine learning-rate schedule. Inputs standardised per channel with training statistics."""
    try:
        split = data.load_cifar10(train_size=ctx.pick(45000, 512), val_size=ctx.pick(5000, 256),
                                  seed=ctx.seed, data_root=ctx.data_root)
    except data.DataNotFound as e:
        raise Skipped(str(e)) from None
    torch, device = torch_setup(ctx)
    from reference.experiments.training import (
        EPOCH_COLUMNS,
        epoch_rows,
        plot_curves,
        tensors,
        train,
    )
    from reference.torch_cnn.solution import CifarNet, normalization_stats
    x, y, xv, yv = tensors(device, split.train_images.astype(np.float32) / 255, split.train_labels,
                           split.val_images.astype(np.float32) / 255, split.val_labels)
    mean, std = (v[:, None, None].to(device) for v in normalization_stats(x.cpu()))
    x, xv = (x - mean) / std, (xv - mean) / std
    epochs = ctx.pick(30, 1)
    cosine = lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    configs = {"no augmentation": {}, "crop + flip": dict(transform=crop_flip),
               "crop + flip + cosine lr": dict(transform=crop_flip, schedule=cosine)}
    histories, rows, summary = {}, [], []
    for label, extra in configs.items():
        _, history, seconds = train(CifarNet, x, y, xv, yv, device=device, seed=ctx.seed, epochs=epochs,
                                    lr=0.05, momentum=0.9, batch_size=128, **extra)
        histories[label] = history
        rows += epoch_rows([label], history, seconds)
        summary.append([label, history["final_train_acc"], history["val_acc"][-1], max(history["val_acc"]),
                        seconds / epochs])
    fig, axes = figure(2)
    plot_curves(axes, histories, keys=("val_acc", "val_loss"))
    return Outcome(["run", *EPOCH_COLUMNS], rows, ["run", "train acc", "val acc", "best val acc", "s/epoch"],
                   summary, fig, [f"{len(y):,} training and {len(yv):,} validation images of CIFAR-10's "
                                  "training set."], device_name(torch, device))
