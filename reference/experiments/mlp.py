"""Seed 003's studies of the NumPy MLP (`reference/mlp`): initialisation, a hyperparameter grid and
finite differences. Shapes: N examples, 784 inputs, 10 classes."""
from __future__ import annotations

import itertools
import math

import numpy as np

from reference.experiments.common import (
    Context,
    Outcome,
    Stopwatch,
    fashion_mnist,
    figure,
)
from reference.mlp.solution import BEST_CONFIG, NN

# Seed 003's printed training losses (MNIST, 784-500-400-10, lr 7e-4, batch 64), epochs 1-10.
SEED_003_LOSS = {
    "zero": [2.3025823920, 2.3025796956, 2.3025770039, 2.3025743167, 2.3025716340,
             2.3025689559, 2.3025662824, 2.3025636135, 2.3025609491, 2.3025582892],
    "normal": [2.0580302501, 1.6435337149, 1.3848512069, 1.2091570948, 1.1207346305,
               1.0233777498, 0.8985837433, 0.8354616197, 0.8217522399, 0.7733425015],
    "glorot": [1.9345233574, 1.5681763651, 1.2365064002, 0.9936469376, 0.8320996049,
               0.7241287334, 0.6487440543, 0.5935780511, 0.5515687221, 0.5185363218],
}
INITS = ("zero", "normal", "glorot")


def init(ctx: Context) -> Outcome:
    """Zero, N(0, 1) and Glorot weights (zero biases) for 784-500-400-10 with ReLU, lr 7e-4, batch 64:
    the mean training loss over the whole training set at the end of each epoch."""
    X, y, _, _ = fashion_mnist(ctx, *ctx.pick((55000, 5000), (1000, 100))).flat()
    epochs = ctx.pick(10, 2)
    losses, rows = {}, []
    for method in INITS:
        net = NN(hidden_dims=(500, 400), init_method=method, lr=7e-4, batch_size=64, seed=ctx.seed)
        with Stopwatch() as clock:
            history = net.train(X, y, epochs)
        losses[method] = history["train_loss"]
        rows += [[method, epoch + 1, loss, acc, clock.seconds / epochs]
                 for epoch, (loss, acc) in enumerate(zip(history["train_loss"], history["train_acc"]))]
    fig, (ax,) = figure()
    for i, method in enumerate(INITS):
        ax.plot(range(1, epochs + 1), losses[method], color=f"C{i}", marker="o",
                label=f"{method} (ours, Fashion-MNIST)")
        ax.plot(range(1, 11), SEED_003_LOSS[method], color=f"C{i}", ls="--", alpha=0.6,
                label=f"{method} (seed 003, MNIST)")
    ax.axhline(math.log(10), color="grey", lw=0.8)
    ax.set(xlabel="epoch", ylabel="mean training loss", title="784-500-400-10, lr 7e-4, batch 64")
    ax.legend(fontsize=7)
    drift = max(abs(v - math.log(10)) for v in losses["zero"])
    summary_rows = [[e + 1, *(losses[m][e] for m in INITS),
                     *(SEED_003_LOSS[m][e] for m in INITS)] for e in range(epochs)]
    notes = [f"Zero init: the loss stays within {drift:.1e} of ln 10 = {math.log(10):.4f} in every epoch: every "
             "hidden unit computes 0, so every weight gradient is 0 and only the output bias moves, by the "
             "(tiny) class imbalance of the split.",
             f"After {epochs} epochs: Glorot {losses['glorot'][-1]:.4f}, N(0, 1) {losses['normal'][-1]:.4f}."]
    return Outcome(["init", "epoch", "train_loss", "train_acc", "seconds_per_epoch"], rows,
                   ["epoch", "zero", "normal", "glorot", "seed 003 zero", "seed 003 normal", "seed 003 glorot"],
                   summary_rows, fig, notes)


def in_budget(hidden: tuple[int, ...]) -> bool:
    """The assignment's rule: between 0.5 M and 1 M parameters."""
    return 500_000 <= NN(hidden_dims=hidden, seed=0).count_parameters() <= 1_000_000


def hparam(ctx: Context) -> Outcome:
    """A grid over learning rate, batch size and hidden sizes (0.5 M-1 M parameters only), Glorot and
    ReLU, trained as the accuracy gate trains (3 epochs on 55,000 images): validation accuracy each."""
    X, y, Xv, yv = fashion_mnist(ctx, *ctx.pick((55000, 5000), (1000, 300))).flat()
    hiddens = ctx.pick([(400, 400), (512, 256), (500, 400), (600, 600), (1000, 200)], [(400, 400), (512, 256)])
    lrs, batches = ctx.pick(((0.01, 0.1), (32, 64)), ((0.1,), (64,)))
    epochs = ctx.pick(BEST_CONFIG["n_epochs"], 1)
    allowed = [h for h in hiddens if in_budget(h)]
    rows = []
    for hidden, lr, batch in itertools.product(allowed, lrs, batches):
        net = NN(hidden_dims=hidden, init_method="glorot", lr=lr, batch_size=batch, seed=ctx.seed)
        with Stopwatch() as clock:
            history = net.train(X, y, epochs, X_val=Xv, y_val=yv)
        rows.append(["x".join(map(str, hidden)), net.count_parameters(), lr, batch, epochs,
                     history["train_loss"][-1], history["val_acc"][-1], clock.seconds])
    ranked = sorted(rows, key=lambda r: -r[6])
    best = ranked[0]
    fig, (ax,) = figure(width=7)
    labels = [f"{r[0]}\nlr {r[2]} b {r[3]}" for r in rows]
    ax.barh(range(len(rows)), [r[6] for r in rows], color=["C1" if r is best else "C0" for r in rows])
    ax.set_yticks(range(len(rows)), labels, fontsize=6)
    low = min(r[6] for r in rows)
    ax.set_xlim(max(0.0, low - 0.05), 1.0)
    ax.set(xlabel="validation accuracy", title=f"MLP grid, {epochs} epoch(s), Glorot, ReLU")
    excluded = [h for h in hiddens if h not in allowed]
    best_cfg = ("x".join(map(str, BEST_CONFIG["hidden_dims"])), BEST_CONFIG["lr"], BEST_CONFIG["batch_size"])
    mine = next((r for r in rows if (r[0], r[2], r[3]) == best_cfg), None)
    notes = [f"Best: hidden {best[0]} ({best[1]:,} parameters), lr {best[2]}, batch {best[3]}: "
             f"validation accuracy {best[6]:.4f}."]
    if excluded:
        notes.append("Left out by the 0.5 M-1 M rule: " + ", ".join(
            f"{'x'.join(map(str, h))} ({NN(hidden_dims=h, seed=0).count_parameters():,})" for h in excluded) + ".")
    if mine:
        notes.append(f"The reference's BEST_CONFIG ({best_cfg[0]}, lr {best_cfg[1]}, batch {best_cfg[2]}) "
                     f"scores {mine[6]:.4f}, rank {ranked.index(mine) + 1} of {len(rows)}.")
    return Outcome(["hidden", "parameters", "lr", "batch_size", "epochs", "train_loss", "val_acc", "seconds"],
                   rows, ["hidden", "parameters", "lr", "batch", "val acc", "seconds"],
                   [[r[0], r[1], r[2], r[3], r[6], r[7]] for r in ranked], fig, notes)


FD_NS = [k * 10 ** i for i in range(6) for k in (1, 5)]


def finite_difference(ctx: Context) -> Outcome:
    """max_i |grad_i^N - dL/dtheta_i| over the first p = 10 entries of W2 (row-major), for eps = 1/N, on
    one training example, after training; in float64 and in float32 (against the float64 gradient)."""
    X, y, _, _ = fashion_mnist(ctx, *ctx.pick((55000, 5000), (1000, 100))).flat()
    net = NN(hidden_dims=(500, 400), init_method="glorot", lr=0.1, batch_size=64, seed=ctx.seed)
    net.train(X, y, 1)
    labels = net._one_hot(y)
    # The first example whose gradient on these 10 weights is not zero (W2[0, :10] multiplies the
    # first hidden unit, which a ReLU may have switched off for a given example).
    for i in range(len(X)):
        x, t = X[i:i + 1], labels[i:i + 1]
        analytic = net.backward(net.forward(x), t)["dW2"].ravel()[:10]
        if np.any(analytic != 0):
            break
    net32 = NN(hidden_dims=(500, 400), seed=0)
    net32.weights = {k: v.astype(np.float32) for k, v in net.weights.items()}
    rows = []
    for precision, model, xs, ts in (("float64", net, x, t), ("float32", net32, x.astype(np.float32),
                                                               t.astype(np.float32))):
        for n in FD_NS:
            numeric = model.numerical_gradient(xs, ts, param="W2", p=10, eps=1.0 / n)
            rows.append([precision, n, 1.0 / n, float(np.max(np.abs(numeric - analytic)))])
    fig, (ax,) = figure()
    for precision, style in (("float64", "o-"), ("float32", "s--")):
        pts = [(r[1], max(r[3], 1e-17)) for r in rows if r[0] == precision]
        ax.loglog(*zip(*pts), style, label=precision)
    ax.set(xlabel="N (eps = 1/N)", ylabel="max |finite difference - backward|",
           title=f"first 10 weights of W2, training example {i}")
    ax.legend()
    best = {p: min((r for r in rows if r[0] == p), key=lambda r: r[3]) for p in ("float64", "float32")}
    notes = [f"Training example {i} (the first whose gradient on W2[0, :10] is not all zero); "
             f"largest |dL/dtheta_i| = {np.max(np.abs(analytic)):.3e}."]
    notes += [f"{p}: smallest difference {best[p][3]:.2e} at N = {best[p][1]} (eps = {best[p][2]:.0e})."
              for p in best]
    summary = [[n, *(next(r[3] for r in rows if r[0] == p and r[1] == n) for p in ("float64", "float32"))]
               for n in FD_NS]
    return Outcome(["precision", "N", "eps", "max_abs_difference"], rows,
                   ["N", "float64", "float32"], summary, fig, notes)
