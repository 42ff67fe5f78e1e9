"""The batch's gradebook: grades.csv (one row per submission) and summary.md."""
from __future__ import annotations

import csv
import statistics
from pathlib import Path

from ..rubric import Rubric


def write_csv(rows: list[dict], rubric: Rubric, path: Path) -> None:
    """rows: {"submission", "student", "result": SubmissionResult | None, "error": str | None}."""
    ids = [i.id for i in rubric.items]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "student", *ids, "total", "max", "error"])
        for row in rows:
            result = row["result"]
            points = {i.id: i.points for i in result.items} if result else {}
            writer.writerow([row["submission"], row["student"], *[f"{points.get(i, 0):g}" for i in ids],
                             f"{result.score if result else 0:g}", f"{rubric.total_points:g}",
                             row.get("error") or (result.error if result else "") or ""])


def pass_rates(rows: list[dict], rubric: Rubric) -> dict[str, float]:
    graded = [r["result"] for r in rows if r["result"] is not None]
    if not graded:
        return {i.id: 0.0 for i in rubric.items}
    return {i.id: sum(any(x.id == i.id and x.passed for x in g.items) for g in graded) / len(graded)
            for i in rubric.items}


def summary_markdown(rows: list[dict], rubric: Rubric, *, plots: list[str], seconds: float, graded: int,
                     cached: int) -> str:
    totals = [r["result"].score if r["result"] else 0.0 for r in rows]
    errors = [r for r in rows if r.get("error") or (r["result"] and r["result"].error)]
    lines = [f"# {rubric.title} ({rubric.assignment}): {len(rows)} submissions", ""]
    if totals:
        lines += [f"- mean {statistics.mean(totals):.1f}, median {statistics.median(totals):g}, "
                  f"min {min(totals):g}, max {max(totals):g} (out of {rubric.total_points:g})",
                  f"- full marks: {sum(t == rubric.total_points for t in totals)}; zero: {sum(t == 0 for t in totals)}"]
    lines += [f"- graded now: {graded}, from the cache: {cached}, in {seconds:.0f} s", ""]
    lines += ["| item | points | passed by | visibility |", "|---|---:|---:|---|"]
    rates = pass_rates(rows, rubric)
    for item in rubric.items:
        lines.append(f"| {item.id} | {item.points:g} | {rates[item.id]:.0%} | {item.visibility} |")
    if errors:
        lines += ["", "## Submissions that could not be graded fully", ""]
        lines += [f"- {r['student']} (`{r['submission']}`): {r.get('error') or r['result'].error}" for r in errors]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in plots]
    return "\n".join(lines) + "\n"
