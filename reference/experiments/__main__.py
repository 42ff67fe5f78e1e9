"""python -m reference.experiments NAME [--out DIR] [--device auto|cpu|cuda] [--quick] [--data-root DIR]"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reference.experiments import EXPERIMENTS, experiment
from reference.experiments.common import (
    Context,
    Skipped,
    Stopwatch,
    markdown_table,
    write,
)


def run(name: str, ctx: Context, command: str) -> dict[str, Path] | None:
    """Runs one experiment, writes its files and prints its table -> the paths, or None when skipped."""
    print(f"## {name} (seed {EXPERIMENTS[name][2]}){' --quick' if ctx.quick else ''}", flush=True)
    try:
        with Stopwatch() as clock:
            outcome = experiment(name)(ctx)
    except Skipped as e:
        print(f"{name}: skipped: {e}\n", file=sys.stderr, flush=True)
        return None
    paths = write(name, outcome, ctx, clock.seconds, command)
    print(markdown_table(outcome.summary, outcome.summary_rows))
    for note in outcome.notes:
        print(f"- {note}")
    print(f"- {outcome.device}, {clock.seconds:.0f} s. Wrote {', '.join(str(p) for p in paths.values())}\n",
          flush=True)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference.experiments", description=(
        "Runs the reference experiments; each writes NAME.csv, NAME.png and NAME.md and prints a table."))
    parser.add_argument("name", choices=[*EXPERIMENTS, "all"], help="the experiment, or all of them in turn")
    parser.add_argument("--out", type=Path, default=Path("experiments-out"), help="folder for the files")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="where PyTorch trains; auto: CUDA when present (the NumPy studies use the CPU)")
    parser.add_argument("--quick", action="store_true", help="a reduced run (small data, one or two epochs)")
    parser.add_argument("--data-root", help="folder holding the data sets (else $GRADER_DATA_ROOT, then "
                                            "/usr/share/datasets)")
    args = parser.parse_args(argv)
    ctx = Context(out=args.out, device=args.device, quick=args.quick, data_root=args.data_root)
    names = list(EXPERIMENTS) if args.name == "all" else [args.name]
    for name in names:
        command = f"python -m reference.experiments {name}" + (" --quick" if args.quick else "")
        run(name, ctx, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
