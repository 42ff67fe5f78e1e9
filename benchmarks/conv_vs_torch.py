"""The reference Conv2d (NumPy, im2col) against torch.nn.functional.conv2d: forward + backward, float32,
CPU, one thread, LeNet-sized and CIFAR-sized layers. Prints a table of medians and the ratio.

    python benchmarks/conv_vs_torch.py [--repeat 20]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]

# (label, N, C_in, H, W, C_out, k, stride, padding)
LAYERS = [
    ("LeNet conv1: 1->6, 5x5 pad 2, 28x28", 64, 1, 28, 28, 6, 5, 1, 2),
    ("LeNet conv2: 6->16, 5x5, 14x14", 64, 6, 14, 14, 16, 5, 1, 0),
    ("CIFAR conv1: 3->32, 5x5 pad 2, 32x32", 64, 3, 32, 32, 32, 5, 1, 2),
    ("CIFAR conv2: 32->64, 5x5 pad 2, 16x16", 64, 32, 16, 16, 64, 5, 1, 2),
]


def load_reference():
    import importlib.util
    spec = importlib.util.spec_from_file_location("ref", ROOT / "reference" / "convnet" / "solution.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    ref = load_reference()
    rng = np.random.default_rng(0)
    print(f"# forward + backward, float32, CPU, 1 thread, median of {args.repeat}; torch {torch.__version__}, "
          f"numpy {np.__version__}")
    print(f"| {'layer (batch 64)':<40} | {'NumPy ref (ms)':>14} | {'torch (ms)':>10} | {'ratio':>6} |")
    print(f"|{'-' * 42}|{'-' * 16}|{'-' * 12}|{'-' * 8}|")
    for label, n, c, h, w, o, k, s, p in LAYERS:
        layer = ref.Conv2d(c, o, k, stride=s, padding=p, rng=rng)
        layer.params = {name: v.astype(np.float32) for name, v in layer.params.items()}
        x = rng.standard_normal((n, c, h, w)).astype(np.float32)
        g = rng.standard_normal(layer.forward(x).shape).astype(np.float32)

        def ours():
            layer.forward(x)
            layer.backward(g)

        xt = torch.tensor(x, requires_grad=True)
        Wt = torch.tensor(layer.params["W"], requires_grad=True)
        bt = torch.tensor(layer.params["b"], requires_grad=True)
        gt = torch.tensor(g)

        def theirs():
            torch.nn.functional.conv2d(xt, Wt, bt, stride=s, padding=p).backward(gt)

        t_ours, t_torch = timed(ours, args.repeat), timed(theirs, args.repeat)
        print(f"| {label:<40} | {t_ours * 1e3:>14.2f} | {t_torch * 1e3:>10.2f} | {t_ours / t_torch:>6.2f} |")


if __name__ == "__main__":
    main()
