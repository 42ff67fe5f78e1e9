"""The plain functions behind the command line: keyword-only, callable from Python.

    check(solution, assignment="mlp")         public items (a student's self-check)
    grade(solution, assignment="mlp")         every item (instructors), optionally to a JSON file
    gradescope()                              what Gradescope's run_autograder calls
    list_assignments()                        the rubrics available
"""
from __future__ import annotations

import json
import os
import traceback
from pathlib import Path
from typing import Callable

from .packaging import autograder as autograder_zip, kit as student_kit
from .report import gradescope as gs
from .results import STUDENT, ItemResult, SubmissionResult
from .rubric import Rubric, available_assignments, load_assignment, load_rubric
from .runner import run_rubric

GRADESCOPE_ROOT = "/autograder"


def _rubric(assignment: str | None, rubric: str | Path | Rubric | None) -> Rubric:
    if isinstance(rubric, Rubric):
        return rubric
    if rubric is not None:
        return load_rubric(rubric)
    if assignment is None:
        raise ValueError("name an assignment (--assignment) or a rubric file (--rubric)")
    return load_assignment(assignment)


def _selected(rubric: Rubric, items: list[str] | None, *, public_only: bool) -> Rubric:
    """The items to run; unknown ids, or hidden ones in a self-check, are a clear error."""
    if items:
        known = {i.id: i for i in rubric.items}
        unknown = [i for i in items if i not in known]
        if unknown:
            raise ValueError(f"{rubric.path}: no item {', '.join(map(repr, unknown))} in assignment "
                             f"{rubric.assignment!r} (items: {', '.join(known)})")
        hidden = [i for i in items if public_only and not known[i].public]
        if hidden:
            raise ValueError(f"item(s) {', '.join(map(repr, hidden))} are not public: `grader check` runs public "
                             "items only (instructors: use `grader grade`)")
    return rubric.select(public_only=public_only, only=items)


def check(solution: str | Path, *, assignment: str | None = None, rubric: str | Path | Rubric | None = None,
          data_root: str | Path | None = None, items: list[str] | None = None,
          progress: Callable[[ItemResult], None] | None = None) -> SubmissionResult:
    """The public items only; the summary never says "all passed" when hidden items exist."""
    full = _rubric(assignment, rubric)
    public = _selected(full, items, public_only=True)
    hidden = len(full.select(public_only=True).items) < len(full.items) or full.hidden_elsewhere > 0
    return run_rubric(public, solution, data_root=data_root, progress=progress, hidden_items_exist=hidden)


def grade(solution: str | Path, *, assignment: str | None = None, rubric: str | Path | Rubric | None = None,
          data_root: str | Path | None = None, items: list[str] | None = None, json_path: str | Path | None = None,
          progress: Callable[[ItemResult], None] | None = None) -> SubmissionResult:
    """Every item, hidden ones included; with `json_path`, also writes Gradescope's results.json format."""
    full = _rubric(assignment, rubric)
    selected = _selected(full, items, public_only=False)
    protected = [str(Path(json_path).resolve().parent)] if json_path else None
    result = run_rubric(selected, solution, data_root=data_root, progress=progress, protected=protected)
    if json_path:
        gs.write_json(gs.to_gradescope(result), json_path)
    return result


def import_warnings(solution: str | Path, rubric: Rubric) -> list[str]:
    """The imports of `solution` that grading will refuse, read from the source before anything runs
    (a student's laptop may have packages the autograder lacks)."""
    from .checks.imports import unavailable_imports_in

    try:
        source = Path(solution).read_text(encoding="utf-8", errors="replace")
        return unavailable_imports_in(source, rubric.sandbox.allowed_imports, rubric.sandbox.forbidden_imports)
    except (OSError, SyntaxError, ValueError):
        return []  # grading says what is wrong with the file itself


def find_submission(folder: Path, name: str = "solution.py") -> Path | None:
    """`name` in the submission folder, or the shallowest one below it (students upload folders too)."""
    if (folder / name).is_file():
        return folder / name
    found = sorted(folder.rglob(name), key=lambda p: (len(p.parts), str(p)))
    return found[0] if found else None


def _student_name(root: Path) -> str | None:
    """Display only: the metadata is never trusted for grading."""
    try:
        meta = json.loads((root / "submission_metadata.json").read_text())
        users = meta.get("users") or []
        names = [u.get("name") for u in users if isinstance(u, dict) and u.get("name")]
        return ", ".join(names) or None
    except (OSError, ValueError, AttributeError):
        return None


def gradescope(*, root: str | Path | None = None, assignment: str | None = None,
               rubric: str | Path | Rubric | None = None,
               data_root: str | Path | None = None) -> SubmissionResult | None:
    """Reads <root>/submission, writes <root>/results/results.json (root: $GRADER_GRADESCOPE_ROOT or
    /autograder). A results file is written whatever happens, over anything the submission left there."""
    root = Path(root or os.environ.get("GRADER_GRADESCOPE_ROOT", GRADESCOPE_ROOT))
    results_path = root / "results" / "results.json"
    doc, result = None, None
    try:
        assignment = assignment or os.environ.get("GRADER_ASSIGNMENT")
        full = _rubric(assignment, rubric)
        solution = find_submission(root / "submission", full.solution_file)
        if solution is None:
            present = sorted(str(p.relative_to(root / "submission")) for p in (root / "submission").rglob("*")
                             if p.is_file())[:20] if (root / "submission").is_dir() else []
            solution = root / "submission" / full.solution_file
            message_files = f" Files received: {', '.join(present)}." if present else " No files were received."
            result = SubmissionResult(assignment=full.assignment, solution=str(solution), items=[], error_by=STUDENT,
                                      error=f"no {full.solution_file} in the submission.{message_files} "
                                            f"Upload a file named exactly {full.solution_file}.")
            result.items = [ItemResult(id=i.id, name=i.name, points=0, max_points=i.points, status="failed",
                                       message=f"Not graded: {result.error}", visibility=i.visibility)
                            for i in full.items]
        else:
            result = run_rubric(full, solution, data_root=data_root,
                                protected=[str(root / "results"), str(root / "source")])
        result.student = _student_name(root)
        doc = gs.to_gradescope(result)
    except Exception as exc:  # the grader itself failed: still a result, with an error to read
        doc = gs.error_document(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}")
        raise
    finally:
        if doc is None:
            doc = gs.error_document("the grader stopped before producing a result")
        try:
            gs.write_json(doc, results_path)
        except OSError:
            results_path.parent.mkdir(parents=True, exist_ok=True)
            results_path.write_text(json.dumps(gs.error_document("results could not be written normally")))
    return result


def autograder(*, assignment: str | None = None, rubric: str | Path | Rubric | None = None,
               output: str | Path = "autograder.zip") -> Path:
    """Builds the Gradescope autograder zip (see grader/packaging/) and returns its path."""
    return autograder_zip.build_autograder(_rubric(assignment, rubric), output)


def kit(*, assignment: str | None = None, rubric: str | Path | Rubric | None = None,
        output: str | Path = "kit.zip", record_also: list[str | Path] = ()) -> Path:
    """Builds the student kit zip (see grader/packaging/) and returns its path. record_also: wrong
    solutions (known bugs, past submissions) whose failures the kit should shrink as grading does."""
    variants = [student_kit.Variant(Path(path)) for path in record_also]
    return student_kit.build_kit(_rubric(assignment, rubric), output, variants)


def batch(folder: str | Path, *, assignment: str | None = None, rubric: str | Path | Rubric | None = None,
          output: str | Path, workers: int = 1, scheduler=None, gpu: bool = False, items: list[str] | None = None,
          data_root: str | Path | None = None, progress: bool = True, due=None, grace_minutes: float = 0,
          canvas_assignment: str | None = None):
    """Grades every submission in `folder` (see grader/batch.py) into `output`; returns a BatchSummary,
    whose `grader_side_errors` lists the submissions the grader itself could not grade fully.
    scheduler: a Dask scheduler address (or a dask.distributed Client) to run on a cluster;
    due: the due date (an ISO 8601 string or an aware datetime), for each row's minutes late;
    canvas_assignment: canvas.csv's assignment column, "Title (id)" (default: the rubric's title)."""
    from . import batch as batch_mod  # tqdm, matplotlib and dask are needed only here

    full = _rubric(assignment, rubric)
    selected = _selected(full, items, public_only=False)
    return batch_mod.batch(folder, rubric=full, output=output, workers=workers, scheduler=scheduler, gpu=gpu,
                           items=[i.id for i in selected.items] if items else None, data_root=data_root,
                           progress=progress, due=due, grace_minutes=grace_minutes,
                           canvas_assignment=canvas_assignment)


def list_assignments() -> list[dict]:
    out = []
    for name in available_assignments():
        rubric = load_assignment(name)
        out.append({"assignment": name, "title": rubric.title, "items": len(rubric.items),
                    "public_items": len(rubric.select(public_only=True).items),
                    "points": rubric.total_points, "rubric": str(rubric.path)})
    return out
