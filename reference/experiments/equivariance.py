"""Seed 000's question: is a convolution equivariant to shifts and rotations? Compares conv(T x) with
T conv(x) for a shift and a 90-degree rotation T, with the reference NumPy `Conv2d` (reference/convnet).
Shapes: x (1, 1, 28, 28); conv output (1, C, 28, 28) (5x5 kernels, padding 2)."""
from __future__ import annotations

import numpy as np

from reference.convnet.solution import Conv2d
from reference.experiments.common import Context, Outcome, fashion_mnist, figure

SHIFT = (3, 5)  # rows down, columns right


def shift(a, dy=SHIFT[0], dx=SHIFT[1]):
    """a: (..., H, W) moved by (dy, dx), zeros coming in (no wrap-around)."""
    out = np.zeros_like(a)
    out[..., dy:, dx:] = a[..., :a.shape[-2] - dy, :a.shape[-1] - dx]
    return out


def rotate(a):
    """a: (..., H, W) turned by 90 degrees counter-clockwise."""
    return np.rot90(a, 1, axes=(-2, -1))


def equivariance(ctx: Context) -> Outcome:
    images = fashion_mnist(ctx, *ctx.pick((1000, 100), (100, 10)))
    x = images.x_val[:1].astype(np.float64)
    conv = Conv2d(1, 4, 5, padding=2, rng=np.random.default_rng(ctx.seed))
    rotated_conv = Conv2d(1, 4, 5, padding=2, rng=np.random.default_rng(ctx.seed))
    rotated_conv.params["W"] = rotate(conv.params["W"]).copy()
    fx = conv.forward(x)
    # Away from the border (where the kernel reads no padding before or after the shift), the shift
    # must commute with the convolution exactly.
    inside = (slice(None), slice(None), slice(SHIFT[0] + 2, -2), slice(SHIFT[1] + 2, -2))
    cases = {
        "shift (3, 5)": (conv.forward(shift(x)), shift(fx)),
        "rotate 90": (conv.forward(rotate(x)), rotate(fx)),
        "rotate 90, kernel rotated too": (rotated_conv.forward(rotate(x)), rotate(fx)),
        "shift (3, 5), compared unshifted": (conv.forward(shift(x)), fx),
    }
    scale = float(np.max(np.abs(fx)))
    rows, summary = [], []
    for name, (a, b) in cases.items():
        diff = np.abs(a - b)
        for c in range(diff.shape[1]):
            rows.append([name, c, float(diff[0, c].max()), float(diff[0, c].mean()),
                         float(diff[inside][0, c].max())])
        summary.append([name, float(diff.max()), float(diff[inside].max()), float(diff.max()) / scale])
    fig, axes = figure(5, width=2.6, height=2.8)
    panels = [("input x", x[0, 0]), ("conv(x), channel 0", fx[0, 0])]
    panels += [(f"|conv(Tx) - T conv(x)|\n{name}", np.abs(a - b)[0, 0]) for name, (a, b) in list(cases.items())[:3]]
    vmax = scale
    for ax, (title, img) in zip(axes, panels):
        ax.imshow(img, cmap="gray" if title == "input x" else "magma",
                  vmin=None if title == "input x" or title.startswith("conv") else 0,
                  vmax=None if title == "input x" or title.startswith("conv") else vmax)
        ax.set_title(title, fontsize=7)
        ax.axis("off")
    notes = [f"Differences are on the scale of max |conv(x)| = {scale:.3f}; the difference panels share it. "
             "'inside': away from the border by the shift plus the kernel's radius.",
             "A shift commutes with a convolution exactly (up to rounding) away from the border, where "
             "content leaves the image and padding enters. A 90-degree rotation does not, unless the kernel is rotated too: a convolution is "
             "translation-equivariant, not rotation-equivariant. Comparing conv(shifted x) with the unshifted "
             "conv(x) (last row) measures invariance, which a convolution does not have either."]
    return Outcome(["transformation", "channel", "max_abs_difference", "mean_abs_difference",
                    "max_abs_difference_inside"], rows,
                   ["transformation", "max abs diff", "max abs diff, inside", "max diff / max of conv(x)"], summary,
                   fig, notes, "CPU (NumPy)")
