"""`grader`: a thin command line over grader.api.

Exit status: `check` 0 only when every item run passed, 1 otherwise; `grade` and `gradescope` 0
when grading completed (whatever the score); `batch` 0 when every submission was graded (whatever
the scores, students' errors included) and 3 when the grader itself could not grade at least one
(a grader-side error: the data set missing, torch missing, the grader crashing; summary.md lists
them first with what to change, and a rerun grades them again); 2 for bad input (unknown
assignment, invalid rubric, missing file, a --due that is not a date).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import api
from .report.console import Console
from .rubric import RubricError


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("solution", type=Path, help="the student's solution.py")
    p.add_argument("--assignment", "-a", help="assignment name (see `grader list`)")
    p.add_argument("--rubric", type=Path, help="a rubric YAML file instead of the assignment's own")
    p.add_argument("--data-root", type=Path, help="folder holding the data sets (else $GRADER_DATA_ROOT, "
                                                  "then /usr/share/datasets)")
    p.add_argument("--item", action="append", dest="items", metavar="ID", help="run only this item (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Autograder for deep-learning assignments.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the assignments available and their rubrics")
    p = sub.add_parser("check", help="student self-check: the public items")
    _add_common(p)
    p = sub.add_parser("grade", help="full grading, hidden items included")
    _add_common(p)
    p.add_argument("--json", type=Path, dest="json_path", help="also write Gradescope's results.json format here")
    p = sub.add_parser("gradescope", help="what Gradescope's run_autograder calls")
    p.add_argument("--assignment", "-a", help="assignment name (else $GRADER_ASSIGNMENT)")
    p.add_argument("--rubric", type=Path)
    p.add_argument("--root", type=Path, help="instead of $GRADER_GRADESCOPE_ROOT or /autograder")
    p.add_argument("--data-root", type=Path)
    p = sub.add_parser("batch", help="grade a folder of submissions (or a Gradescope export)")
    p.add_argument("folder", type=Path, help="one sub-folder per submission, or a Gradescope export")
    p.add_argument("--assignment", "-a")
    p.add_argument("--rubric", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True, help="folder for grades.csv, feedback, plots")
    p.add_argument("--workers", type=int, default=1, help="submissions graded at once on this machine")
    p.add_argument("--scheduler", help="address of a Dask scheduler to run on instead (tcp://host:8786)")
    p.add_argument("--gpu", action="store_true", help="with --scheduler: each task asks for a GPU resource")
    p.add_argument("--item", action="append", dest="items", metavar="ID", help="only this item (repeatable)")
    p.add_argument("--data-root", type=Path)
    p.add_argument("--due", metavar="ISO-DATETIME", help="the due date (e.g. 2024-03-01T23:59-05:00; without a zone, "
                                                         "local time): each row's minutes late")
    p.add_argument("--grace", type=float, default=0, metavar="MINUTES",
                   help="with --due: minutes late that still count as on time in the `late` column")
    p.add_argument("--canvas-assignment", metavar="'TITLE (ID)'",
                   help="canvas.csv's assignment column as Canvas's export heads it (default: the rubric's title, "
                        "which Canvas imports as a new assignment)")
    p = sub.add_parser("kit", help="build the student kit (template, public checks, no reference)")
    p.add_argument("--assignment", "-a", required=True)
    p.add_argument("--rubric", type=Path, help="a rubric YAML file instead of the assignment's own")
    p.add_argument("-o", "--output", type=Path, default=Path("kit.zip"))
    p.add_argument("--record-also", type=Path, action="append", default=[], metavar="SOLUTION",
                   help="a wrong solution (a known bug, a past submission) whose failing inputs the kit records "
                        "the reference's answers for, so the kit reports it as grading does (repeatable)")
    p = sub.add_parser("autograder", help="build the Gradescope autograder zip")
    p.add_argument("--assignment", "-a", required=True)
    p.add_argument("--rubric", type=Path, help="a rubric YAML file instead of the assignment's own")
    p.add_argument("-o", "--output", type=Path, default=Path("autograder.zip"))
    return parser


def _run(args, console: Console, fn, **extra):
    rubric = api._rubric(args.assignment, args.rubric)
    scope = "public" if fn is api.check else "all"
    selected = api._selected(rubric, args.items, public_only=fn is api.check)
    console.header(rubric.title, rubric.assignment, scope, len(selected.items), [i.id for i in selected.items])
    for warning in api.import_warnings(args.solution, rubric):
        console.warning(warning)
    result = fn(args.solution, rubric=rubric, data_root=args.data_root, items=args.items,
                progress=console.item, **extra)
    console.feedback(result)
    return result


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        if args.command == "list":
            for a in api.list_assignments():
                print(f"{a['assignment']:<12} {a['points']:>5g} points, {a['items']:>2} items "
                      f"({a['public_items']} public)  {a['title']}\n{'':<12} rubric: {a['rubric']}")
            return 0
        if args.command in ("check", "grade") and not args.solution.is_file():
            print(f"grader: {args.solution}: no such file. Pass the path of your solution.py.", file=sys.stderr)
            return 2
        if args.command == "check":
            result = _run(args, console, api.check)
            return 0 if result.all_passed else 1
        if args.command == "grade":
            result = _run(args, console, api.grade, json_path=args.json_path)
            if args.json_path:
                print(f"Wrote {args.json_path}")
            return 0 if result.error is None else 1
        if args.command == "batch":
            if args.workers < 1:
                print("grader: --workers must be at least 1", file=sys.stderr)
                return 2
            summary = api.batch(args.folder, assignment=args.assignment, rubric=args.rubric, output=args.output,
                                workers=args.workers, scheduler=args.scheduler, gpu=args.gpu, items=args.items,
                                data_root=args.data_root, due=args.due, grace_minutes=args.grace,
                                canvas_assignment=args.canvas_assignment)
            print(f"Graded {summary.graded} submission(s) ({summary.cached} from the cache) in "
                  f"{summary.seconds:.0f} s: {summary.files['grades']}, {summary.files['students']}, "
                  f"{summary.files['canvas']}, {summary.files['summary']}, {summary.output / 'feedback'}/, "
                  f"{summary.output / 'plots'}/")
            failed = summary.grader_side_errors
            if failed:
                print(f"grader: the grader itself could not grade {len(failed)} submission(s) fully (not the "
                      f"students' fault; not cached): see {summary.files['summary']}, fix the cause and run the "
                      "same command again", file=sys.stderr)
                return 3
            return 0
        if args.command == "kit":
            out = api.kit(assignment=args.assignment, rubric=args.rubric, output=args.output,
                          record_also=args.record_also)
            print(f"Wrote {out}: hand it to students (unzip it; its README.md says how to install and run "
                  f"python -m grader check solution.py --assignment {args.assignment}).")
            return 0
        if args.command == "autograder":
            out = api.autograder(assignment=args.assignment, rubric=args.rubric, output=args.output)
            print(f"Wrote {out}: upload it as the autograder of a Gradescope programming assignment "
                  "(Ubuntu base image); setup.sh installs what it needs while the image builds.")
            return 0
        if args.command == "gradescope":
            result = api.gradescope(root=args.root, assignment=args.assignment, rubric=args.rubric,
                                    data_root=args.data_root)
            if result is not None:
                console.feedback(result)
            return 0
    except (RubricError, ValueError, FileNotFoundError) as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
