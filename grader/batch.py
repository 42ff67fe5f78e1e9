"""Grading many submissions: a folder of submission folders or a Gradescope export, on this machine
(one process per parallel submission) or on a Dask distributed cluster.

Every submission is graded by `grade_one` with the same sandbox as `grader grade`; a submission that
cannot be graded becomes a row with its error and the batch goes on. Results are cached under
OUT/cache by a hash of the submission, the rubric, the reference and the grader's own sources, so a
rerun after an interruption, or with one new submission, grades only what changed. A result that
holds a grader-side error (the data set missing, the grader crashing) is never cached: it is no
grade, and the rerun after the platform is fixed grades it again.

Outputs (OUT/): grades.csv (per submission), students.csv and canvas.csv (per student),
feedback/<submission>.md (hidden items included: for the course staff), summary.md,
plots/score_histogram.png, plots/item_pass_rates.png.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from . import __version__
from .report import canvas, gradebook, markdown
from .results import ERROR, FAILED, PLATFORM, STUDENT, BatchRow, ItemResult, SubmissionResult
from .rubric import PROJECT_ROOT, Rubric, load_rubric
from .runner import run_rubric
from .submissions import Submission, discover, minutes_late, parse_due


@dataclass
class BatchSummary:
    output: Path
    rows: list[BatchRow]
    graded: int = 0
    cached: int = 0
    seconds: float = 0.0
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def grader_side_errors(self) -> list[BatchRow]:
        """The submissions the grader itself could not grade fully (never cached: a rerun regrades them)."""
        return [r for r in self.rows if r.result.grader_side_errors]


@lru_cache(maxsize=1)
def grader_fingerprint() -> str:
    """The grader's version and sources: a change to a check regrades everything."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted((PROJECT_ROOT / "grader").rglob("*.py")):
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cache_key(submission: Submission, rubric: Rubric, items: list[str] | None) -> str:
    digest = hashlib.sha256(grader_fingerprint().encode())
    for path in (rubric.path, rubric.reference):
        digest.update(path.read_bytes())
    digest.update(json.dumps(sorted(items) if items else None).encode())
    digest.update(submission.solution.read_bytes() if submission.solution else b"<no solution file>")
    return digest.hexdigest()[:32]


def grade_one(solution: str | None, rubric_path: str, items: list[str] | None = None,
              data_root: str | None = None) -> dict:
    """Grades one submission; what a pool process or a Dask worker runs. Returns SubmissionResult.to_dict()."""
    rubric = load_rubric(rubric_path)
    if items:
        rubric = rubric.select(only=items)
    if solution is None:
        return not_graded(rubric, f"no {rubric.solution_file} in the submission", STUDENT).to_dict()
    return run_rubric(rubric, solution, data_root=data_root).to_dict()


def not_graded(rubric: Rubric, error: str, by: str) -> SubmissionResult:
    """A submission that could not be graded at all; `by`: who must act (its items are failed for the
    student's error, error for the platform's)."""
    status = FAILED if by == STUDENT else ERROR
    return SubmissionResult(assignment=rubric.assignment, solution="", error=error, error_by=by, items=[
        ItemResult(id=i.id, name=i.name, points=0, max_points=i.points, status=status,
                   message=f"Not graded: {error}", visibility=i.visibility) for i in rubric.items])


class _Local:
    """Runs grade_one in `workers` fresh processes (spawned: nothing of this process is inherited)."""

    def __init__(self, workers: int):
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, *args):
        return self.pool.submit(grade_one, *args)

    def completed(self, futures):
        return as_completed(futures)

    def close(self):
        self.pool.shutdown(cancel_futures=True)


class _Dask:
    """Runs grade_one on an existing Dask cluster; each task may ask for a `GPU` resource."""

    def __init__(self, scheduler, gpu: bool):
        from dask.distributed import Client
        self.client = scheduler if hasattr(scheduler, "submit") else Client(scheduler)
        self.owned = self.client is not scheduler
        self.resources = {"GPU": 1} if gpu else None

    def submit(self, *args):
        return self.client.submit(grade_one, *args, pure=False, resources=self.resources)

    def completed(self, futures):
        from dask.distributed import as_completed as dask_completed
        return dask_completed(futures)

    def close(self):
        if self.owned:
            self.client.close()


class _Inline:
    """One submission after another in this process (the default: the sandbox is the parallel part)."""

    class _Done:
        def __init__(self, fn, args):
            try:
                self.value, self.error = fn(*args), None
            except Exception as exc:
                self.value, self.error = None, exc

        def result(self):
            if self.error is not None:
                raise self.error
            return self.value

    def submit(self, *args):
        return _Inline._Done(grade_one, args)

    def completed(self, futures):
        return iter(futures)

    def close(self):
        pass


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit="submission", desc="grading", dynamic_ncols=True)


def batch(folder: str | Path, *, rubric: Rubric, output: str | Path, workers: int = 1, scheduler=None,
          gpu: bool = False, items: list[str] | None = None, data_root: str | Path | None = None,
          progress: bool = True, due: datetime | str | None = None, grace_minutes: float = 0,
          canvas_assignment: str | None = None) -> BatchSummary:
    """due: the assignment's due date (an export does not carry it), for each row's minutes late;
    canvas_assignment: the Canvas gradebook's column for this assignment (default: the rubric's title)."""
    start = time.monotonic()
    due = parse_due(due) if isinstance(due, str) else due
    out = Path(output)
    for sub in ("cache", "feedback", "plots"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    submissions = discover(folder, rubric.solution_file)
    selected = rubric.select(only=items) if items else rubric
    results: dict[str, SubmissionResult] = {}
    pending = []
    for s in submissions:
        path = out / "cache" / f"{cache_key(s, rubric, items)}.json"
        if path.is_file():
            try:
                cached_result = SubmissionResult.from_dict(json.loads(path.read_text()))
            except (ValueError, TypeError, KeyError):
                cached_result = None  # a truncated cache file from an interrupted run: grade again
            if cached_result is not None and not cached_result.grader_side_errors:
                results[s.id] = cached_result
                continue
            path.unlink()
        pending.append((s, path))
    cached = len(submissions) - len(pending)
    bar = _progress(len(submissions), progress)
    if bar is not None:
        bar.update(cached)
    runner = _Dask(scheduler, gpu) if scheduler is not None else _Local(workers) if workers > 1 else _Inline()
    try:
        futures = {}
        for s, path in pending:
            future = runner.submit(str(s.solution) if s.solution else None, str(rubric.path), items,
                                   str(data_root) if data_root else None)
            futures[future] = (s, path)
        for future in runner.completed(list(futures)):
            s, path = futures[future]
            try:
                doc = future.result()
                results[s.id] = SubmissionResult.from_dict(doc)
            except Exception as exc:  # the grader itself failed on this submission: a row, not a stop
                results[s.id] = not_graded(selected, f"the grader failed on this submission: {type(exc).__name__}: "
                                                     f"{exc}", PLATFORM)
                traceback.print_exc(limit=-2)
            else:
                if not results[s.id].grader_side_errors:  # the platform's failure is never a cached grade
                    tmp = path.with_suffix(".tmp")
                    tmp.write_text(json.dumps(doc))
                    tmp.replace(path)  # atomic: an interruption never leaves half a cache file
            if bar is not None:
                bar.update(1)
    finally:
        runner.close()
        if bar is not None:
            bar.close()
    rows = []
    for s in submissions:
        late_by = minutes_late(s.submitted_at, due)
        rows.append(BatchRow(submission=s.id, submitters=list(s.submitters), result=results[s.id],
                             submitted_at=s.submitted_at, minutes_late=late_by,
                             late=None if late_by is None else late_by > grace_minutes))
    summary = BatchSummary(output=out, rows=rows, graded=len(pending), cached=cached)
    summary.seconds = time.monotonic() - start
    _write_reports(summary, selected, canvas_assignment or selected.title)
    return summary


def _write_reports(summary: BatchSummary, rubric: Rubric, canvas_column: str) -> None:
    from .report import plots

    out = summary.output
    files = {"grades": out / "grades.csv", "students": out / "students.csv", "canvas": out / "canvas.csv",
             "summary": out / "summary.md"}
    gradebook.write_csv(summary.rows, rubric, files["grades"])
    gradebook.write_students_csv(summary.rows, rubric, files["students"])
    canvas.write_csv(summary.rows, column=canvas_column, points_possible=rubric.total_points, path=files["canvas"])
    for row in summary.rows:
        text = markdown.feedback(row.result, student=row.student, submission=row.submission)
        (out / "feedback" / f"{row.submission}.md").write_text(text, encoding="utf-8")
    totals = [r.result.score for r in gradebook.fully_graded(summary.rows)]
    files["histogram"] = plots.score_histogram(totals, rubric.total_points, out / "plots" / "score_histogram.png")
    files["pass_rates"] = plots.pass_rates(gradebook.pass_rates(summary.rows, rubric),
                                           out / "plots" / "item_pass_rates.png")
    plot_links = [str(p.relative_to(out)) for p in (files["histogram"], files["pass_rates"])]
    files["summary"].write_text(gradebook.summary_markdown(summary.rows, rubric, plots=plot_links,
                                                           seconds=summary.seconds, graded=summary.graded,
                                                           cached=summary.cached), encoding="utf-8")
    summary.files = files
