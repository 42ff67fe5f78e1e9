"""Time of one call to the student's code through the sandbox: a forward of a small MLP (one array in,
seven out) and messages carrying one large array, as the checks make thousands of them.

    python benchmarks/round_trip.py [--calls 500]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.rubric import load_assignment  # noqa: E402
from grader.runner import sandbox_config  # noqa: E402
from grader.sandbox.client import RemoteHandle  # noqa: E402
from grader.sandbox.handle import LocalHandle  # noqa: E402


def per_call(fn, calls: int, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    solution = ROOT / "reference" / "mlp" / "solution.py"
    remote = RemoteHandle(solution, sandbox_config(load_assignment("mlp")))
    local = LocalHandle.from_file(solution, "student")
    print(f"| {'call (median of 5 x ' + str(args.calls) + ')':<48} | {'worker (ms)':>11} | {'in-process (ms)':>15} |")
    print(f"|{'-' * 50}|{'-' * 13}|{'-' * 17}|")
    x = np.ones((4, 5))
    big = np.ones((2000, 1000))
    for label, make in [("NN(5-6-3).forward(x), x (4, 5): 7 arrays back", lambda h: (h.new(
                            "NN", hidden_dims=(6,), input_dim=5, n_classes=3, seed=0), "forward", x)),
                        ("relu(x), x (2000, 1000) float64: 16 MB each way", lambda h: (h.new(
                            "NN", hidden_dims=(6,), input_dim=5, n_classes=3, seed=0), "relu", big))]:
        row = []
        for handle, calls in ((remote, args.calls), (local, args.calls)):
            obj, method, arg = make(handle)
            n = calls if arg.size < 10**5 else max(calls // 50, 5)
            row.append(per_call(lambda: obj.call(method, arg), n) * 1e3)
        print(f"| {label:<48} | {row[0]:>11.3f} | {row[1]:>15.3f} |")
    remote.close()


if __name__ == "__main__":
    main()
