"""Grades a generated class of `mlp` submissions (the reference, the template and mutants of the
reference) in batch: one worker, two local workers, and a two-worker Dask LocalCluster; prints
submissions per minute, the speed-up, and the Dask path's overhead per submission.

    python benchmarks/batch_class.py [--students 40] [--with-gate]

Without --with-gate the accuracy item (a minute of training per submission) is left out, so the
figures measure the batch machinery and the checks rather than 40 minutes of training. Each
configuration grades into a fresh folder (no cache).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader import api  # noqa: E402
from grader.rubric import load_assignment  # noqa: E402

MUTATIONS = [  # realistic bugs, each a (old, new) edit of the reference
    ("return (x > 0).astype(float)", "return (x >= 0).astype(float)"),
    ("z = x - np.max(x, axis=-1, keepdims=True)", "z = x"),
    ('self.weights[f"W{l}"] -= self.lr * grads[f"dW{l}"]', 'self.weights[f"W{l}"] += self.lr * grads[f"dW{l}"]'),
]


def make_class(folder: Path, n: int) -> dict[str, int]:
    """n submission folders; returns how many of each kind."""
    reference = (ROOT / "reference" / "mlp" / "solution.py").read_text()
    template = (ROOT / "student_template" / "mlp" / "solution.py").read_text()
    usable = [(old, new) for old, new in MUTATIONS if reference.count(old) == 1]
    kinds = {"reference": 0, "template": 0, "mutant": 0}
    for i in range(n):
        if i % 4 == 0:
            source, kind = template, "template"
        elif i % 4 == 1 and usable:
            old, new = usable[(i // 4) % len(usable)]
            source, kind = reference.replace(old, new), "mutant"
        else:
            source, kind = reference, "reference"
        kinds[kind] += 1
        (folder / f"student{i:03d}").mkdir(parents=True)
        (folder / f"student{i:03d}" / "solution.py").write_text(source + f"\n# student {i}\n")
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--with-gate", action="store_true")
    args = parser.parse_args()
    rubric = load_assignment("mlp")
    items = None if args.with_gate else [i.id for i in rubric.items if i.check != "accuracy_gate"]
    work = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    kinds = make_class(work / "class", args.students)
    runs = {}
    configs = [("1 local worker", dict(workers=1)), ("2 local workers", dict(workers=2)),
               ("Dask LocalCluster, 2 workers", "dask")]
    for label, config in configs:
        out = work / label.replace(" ", "_").replace(",", "")
        start = time.monotonic()
        if config == "dask":
            from dask.distributed import LocalCluster
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
                summary = api.batch(work / "class", rubric=rubric, output=out, items=items,
                                    scheduler=cluster.scheduler_address, progress=False)
        else:
            summary = api.batch(work / "class", rubric=rubric, output=out, items=items, progress=False, **config)
        runs[label] = (time.monotonic() - start, summary)
    n = args.students
    print(f"# {n} submissions of mlp ({kinds['reference']} reference, {kinds['mutant']} mutants, "
          f"{kinds['template']} templates), {'with' if args.with_gate else 'without'} the accuracy gate")
    print(f"# {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{'root (workers as nobody)' if os.geteuid() == 0 else 'unprivileged'}")
    print("| configuration | wall (s) | submissions / min | speed-up |")
    print("|---|---:|---:|---:|")
    base = runs["1 local worker"][0]
    for label, (seconds, _) in runs.items():
        print(f"| {label} | {seconds:.1f} | {60 * n / seconds:.1f} | {base / seconds:.2f}x |")
    dask_s, local_s = runs["Dask LocalCluster, 2 workers"][0], runs["2 local workers"][0]
    print(f"\nDask overhead relative to 2 local workers: {(dask_s - local_s) / n:+.2f} s per submission "
          f"({100 * (dask_s / local_s - 1):+.1f}%)")
    grades = {label: (s.output / "grades.csv").read_text() for label, (_, s) in runs.items()}
    print(f"identical gradebooks: {len(set(grades.values())) == 1}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
