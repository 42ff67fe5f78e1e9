"""Grades a solution (the reference by default) on one CPU core and prints a table of wall time,
CPU time and peak memory of the grader and its worker, over several runs (medians).

    python benchmarks/grade_reference.py [--assignment mlp] [--solution PATH] [--repeat 3] [--cores 1]

Each run is a fresh `python -m grader grade` process pinned to the given cores (the worker inherits
the affinity), so the figures include interpreter start-up and data loading, as on Gradescope.
Peak memory: the grader's own peak RSS plus the largest peak RSS of any of its children (the
worker): an upper bound of what the container must hold at once.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
from grader import api
t0, c0 = time.monotonic(), time.process_time()
result = api.grade(sys.argv[1], assignment=sys.argv[2])
self_ru, child_ru = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "score": result.score, "max_score": result.max_score,
    "wall_s": time.monotonic() - t0,
    "cpu_s": self_ru.ru_utime + self_ru.ru_stime + child_ru.ru_utime + child_ru.ru_stime,
    "grader_rss_mb": self_ru.ru_maxrss / 1024, "worker_rss_mb": child_ru.ru_maxrss / 1024,
    "items": {i.id: round(i.duration_s, 2) for i in result.items},
}))
"""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def torch_version() -> str:
    """The installed torch, without importing it (the CPU build's version ends in +cpu)."""
    from importlib import metadata
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "not installed"


def run_once(solution: Path, assignment: str, cores: set[int]) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(solution), assignment], cwd=ROOT, env=env,
                          capture_output=True, text=True, preexec_fn=lambda: os.sched_setaffinity(0, cores))
    if proc.returncode != 0:
        raise SystemExit(f"grading failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = time.monotonic() - start
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", default="mlp")
    parser.add_argument("--solution", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cores", type=int, default=1)
    args = parser.parse_args()
    solution = args.solution or ROOT / "reference" / args.assignment / "solution.py"
    cores = set(sorted(os.sched_getaffinity(0))[:args.cores])
    runs = [run_once(solution, args.assignment, cores) for _ in range(args.repeat)]

    def med(key):
        return statistics.median(r[key] for r in runs)
    print(f"# grading {solution.relative_to(ROOT) if solution.is_relative_to(ROOT) else solution} "
          f"({args.assignment}) on {len(cores)} core(s) of {cpu_model()}, {args.repeat} run(s), medians")
    print(f"# Python {platform.python_version()}, {platform.system()} {platform.release()}, "
          f"user {'root (worker as nobody)' if os.geteuid() == 0 else 'unprivileged'}, torch {torch_version()}")
    print(f"| {'measure':<34} | {'median':>9} | {'min':>9} | {'max':>9} |")
    print(f"|{'-' * 36}|{'-' * 11}|{'-' * 11}|{'-' * 11}|")
    rows = [("score", "score"), ("wall time, process (s)", "process_wall_s"), ("wall time, grading (s)", "wall_s"),
            ("CPU time, grader + worker (s)", "cpu_s"), ("peak RSS, grader (MB)", "grader_rss_mb"),
            ("peak RSS, worker (MB)", "worker_rss_mb")]
    for label, key in rows:
        values = [r[key] for r in runs]
        print(f"| {label:<34} | {med(key):>9.1f} | {min(values):>9.1f} | {max(values):>9.1f} |")
    total = [r["grader_rss_mb"] + r["worker_rss_mb"] for r in runs]
    print(f"| {'peak RSS, grader + worker (MB)':<34} | {statistics.median(total):>9.1f} | {min(total):>9.1f} | "
          f"{max(total):>9.1f} |")
    print("\n# slowest items (median seconds)")
    for item in sorted(runs[0]["items"], key=lambda k: -statistics.median(r["items"][k] for r in runs))[:6]:
        print(f"  {item:<22} {statistics.median(r['items'][item] for r in runs):6.2f}")


if __name__ == "__main__":
    main()
