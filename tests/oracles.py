"""Independent oracles for the convnet tests: plain loops, written for clarity, not speed."""
from __future__ import annotations

import numpy as np


def conv2d_forward(x, W, b, stride, padding):
    """x: (N, C, H, W), W: (O, C, k, k), b: (O,) -> (N, O, Ho, Wo)."""
    N, C, H, Wd = x.shape
    O, _, k, _ = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho, Wo = (H + 2 * padding - k) // stride + 1, (Wd + 2 * padding - k) // stride + 1
    out = np.zeros((N, O, Ho, Wo))
    for n in range(N):
        for o in range(O):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * stride:i * stride + k, j * stride:j * stride + k]
                    out[n, o, i, j] = np.sum(window * W[o]) + b[o]
    return out


def conv2d_backward(x, W, grad_out, stride, padding):
    """-> (dx, dW, db) of <conv2d_forward(x, W, b), grad_out>."""
    N, C, H, Wd = x.shape
    O, _, k, _ = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dxp, dW = np.zeros_like(xp), np.zeros_like(W)
    for n in range(N):
        for o in range(O):
            for i in range(grad_out.shape[2]):
                for j in range(grad_out.shape[3]):
                    g = grad_out[n, o, i, j]
                    rows, cols = slice(i * stride, i * stride + k), slice(j * stride, j * stride + k)
                    dW[o] += g * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += g * W[o]
    return dxp[:, :, padding:padding + H, padding:padding + Wd], dW, grad_out.sum(axis=(0, 2, 3))


def maxpool_forward(x, k, stride):
    N, C, H, Wd = x.shape
    Ho, Wo = (H - k) // stride + 1, (Wd - k) // stride + 1
    out = np.zeros((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = x[n, c, i * stride:i * stride + k, j * stride:j * stride + k].max()
    return out


def maxpool_backward(x, k, stride, grad_out):
    dx = np.zeros_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(grad_out.shape[2]):
                for j in range(grad_out.shape[3]):
                    window = x[n, c, i * stride:i * stride + k, j * stride:j * stride + k]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + a, j * stride + b] += grad_out[n, c, i, j]
    return dx
