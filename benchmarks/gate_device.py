"""Times the accuracy gate of a PyTorch assignment on each device this machine has (the CPU, and the
GPU when CUDA is present), several runs each, and prints accuracy, time and the device used.

    python benchmarks/gate_device.py [--assignment torch_cnn] [--repeat 2]

Each run grades the reference's gate item (and the items it depends on) through the sandbox, as
`grader grade` does; the CPU runs use the worker's single thread. Two runs on one device must give
the same accuracy (the worker's deterministic settings): the table shows it.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader import api  # noqa: E402
from grader.checks import CHECKS  # noqa: E402
from grader.rubric import load_assignment  # noqa: E402


def has_cuda() -> bool:
    """Asked in a child process: this one never imports torch."""
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.is_available())"],
                           capture_output=True, text=True)
    return probe.stdout.strip() == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", default="torch_cnn")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    rubric = load_assignment(args.assignment)
    gates = [i for i in rubric.items if CHECKS[i.check].needs_data or i.check.endswith("_gate")]
    if not gates:
        raise SystemExit(f"{args.assignment} has no accuracy gate")
    gate = gates[0]
    needed = [*gate.depends_on, gate.id]
    devices = ["cpu"] + (["auto"] if has_cuda() and "device" in gate.params else [])
    solution = ROOT / "reference" / args.assignment / "solution.py"
    print(f"# accuracy gate {gate.id!r} of {args.assignment}, reference solution, {args.repeat} run(s) per device")
    print("| device | accuracy (each run) | gate time, median (s) | min (s) | max (s) |")
    print("|---|---|---:|---:|---:|")
    for device in devices:
        items = tuple(replace(i, params={**i.params, "device": device}) if i.id == gate.id and "device" in i.params
                      else i for i in rubric.items)
        selected = replace(rubric, items=items).select(only=needed)
        runs = []
        for _ in range(args.repeat):
            result = api.grade(solution, rubric=selected)
            item = next(i for i in result.items if i.id == gate.id)
            runs.append((item.details.get("accuracy"), item.duration_s, item.details.get("device", "cpu"), item))
        if any(r[0] is None for r in runs):
            raise SystemExit(f"the gate did not run: {runs[0][3].message}")
        times = [r[1] for r in runs]
        accuracies = ", ".join(f"{r[0]:.4f}" for r in runs)
        print(f"| {runs[0][2]} | {accuracies} | {statistics.median(times):.1f} | {min(times):.1f} | {max(times):.1f} |")


if __name__ == "__main__":
    main()
