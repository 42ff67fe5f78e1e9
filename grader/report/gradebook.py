"""The batch's gradebook: grades.csv (one row per submission, every item's points), students.csv (one
row per student: ids, time, lateness, total, error) and summary.md.

A submission with a grader-side error has no total (an empty cell, never a 0): it is not a grade.
"""
from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from pathlib import Path

from ..results import ERROR, STUDENT, BatchRow
from ..rubric import Rubric


def one_line(text: str | None, limit: int = 1000) -> str:
    """A message for a CSV cell: its lines joined, trimmed to `limit` characters."""
    text = " | ".join(line.strip() for line in (text or "").splitlines() if line.strip())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def fully_graded(rows: list[BatchRow]) -> list[BatchRow]:
    """The rows whose total is a grade (no grader-side error)."""
    return [r for r in rows if not r.result.grader_side_errors]


def _total(row: BatchRow) -> str:
    return "" if row.result.grader_side_errors else f"{row.result.score:g}"


def _when(row: BatchRow) -> list[str]:
    return [row.submitted_at.isoformat(timespec="seconds") if row.submitted_at else "",
            "" if row.minutes_late is None else str(row.minutes_late),
            "" if row.late is None else ("yes" if row.late else "no")]


def write_csv(rows: list[BatchRow], rubric: Rubric, path: Path) -> None:
    """One row per submission; an item the grader could not judge is an empty cell."""
    ids = [i.id for i in rubric.items]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "student", "submitted_at", "minutes_late", "late", *ids, "total", "max",
                         "error_by", "error"])
        for row in rows:
            points = {i.id: "" if i.status == ERROR else f"{i.points:g}" for i in row.result.items}
            writer.writerow([row.submission, row.student, *_when(row), *[points.get(i, "") for i in ids],
                             _total(row), f"{rubric.total_points:g}", row.error_by or "", one_line(row.error)])


def write_students_csv(rows: list[BatchRow], rubric: Rubric, path: Path) -> None:
    """One row per student (a group submission gives each member the group's row)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "sid", "email", "submission", "submitted_at", "minutes_late", "late",
                         "total", "max", "error_by", "error"])
        for row in rows:
            for person in row.submitters:
                writer.writerow([person.name, person.sid, person.email, row.submission, *_when(row), _total(row),
                                 f"{rubric.total_points:g}", row.error_by or "", one_line(row.error)])


def pass_rates(rows: list[BatchRow], rubric: Rubric) -> dict[str, float]:
    """Each item's share of passes among the submissions the grader could judge on it."""
    rates = {}
    for item in rubric.items:
        judged = [x for r in rows for x in r.result.items if x.id == item.id and x.status != ERROR]
        rates[item.id] = sum(x.passed for x in judged) / len(judged) if judged else 0.0
    return rates


def _grader_side_section(rows: list[BatchRow]) -> list[str]:
    by_cause: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        for cause in row.result.grader_side_errors:
            by_cause[cause].append(row.submission)
    if not by_cause:
        return []
    affected = sum(bool(r.result.grader_side_errors) for r in rows)
    lines = [f"## Grader-side errors: {affected} submission(s) not graded fully", "",
             "Not the students' fault: these rows have no total in the gradebooks (an empty cell in canvas.csv), "
             "their results are not cached, and the `grader batch` command exits with status 3. Fix the cause below (each "
             "message says what to change: install the data set or pass `--data-root`, install torch...), then "
             "run the same command again: only these submissions are graded again.", ""]
    for cause, subs in by_cause.items():
        lines.append(f"- {one_line(cause, 2000)}  \n  {len(subs)} submission(s): "
                     + ", ".join(f"`{s}`" for s in subs))
    return lines + [""]


def summary_markdown(rows: list[BatchRow], rubric: Rubric, *, plots: list[str], seconds: float, graded: int,
                     cached: int) -> str:
    totals = [r.result.score for r in fully_graded(rows)]
    lines = [f"# {rubric.title} ({rubric.assignment}): {len(rows)} submissions", ""]
    lines += _grader_side_section(rows)
    lines += ["## Scores", ""]
    if totals:
        left_out = len(rows) - len(totals)
        lines += [f"- mean {statistics.mean(totals):.1f}, median {statistics.median(totals):g}, "
                  f"min {min(totals):g}, max {max(totals):g} (out of {rubric.total_points:g})"
                  + (f", over the {len(totals)} submissions graded fully" if left_out else ""),
                  f"- full marks: {sum(t == rubric.total_points for t in totals)}; zero: {sum(t == 0 for t in totals)}"]
    lines += [f"- graded now: {graded}, from the cache: {cached}, in {seconds:.0f} s", ""]
    lines += ["| item | points | passed by | visibility |", "|---|---:|---:|---|"]
    rates = pass_rates(rows, rubric)
    for item in rubric.items:
        lines.append(f"| {item.id} | {item.points:g} | {rates[item.id]:.0%} | {item.visibility} |")
    students = [r for r in rows if r.error_by == STUDENT]
    if students:
        lines += ["", "## Submissions that could not be graded fully (the student's error)", ""]
        lines += [f"- {r.student} (`{r.submission}`): {one_line(r.error)}" for r in students]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in plots]
    return "\n".join(lines) + "\n"
