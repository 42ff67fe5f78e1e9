"""Per-student feedback as Markdown: the messages the student sees, hidden items included (for the
instructor's batch grading)."""
from __future__ import annotations

from ..results import SubmissionResult


def _fence(text: str) -> str:
    fence = "````" if "```" in text else "```"
    return f"{fence}\n{text.rstrip()}\n{fence}"


def feedback(result: SubmissionResult, *, student: str, submission: str) -> str:
    lines = [f"# {student}", "",
             f"Submission `{submission}`, assignment `{result.assignment}`: **{result.score:g} / "
             f"{result.max_score:g}**", ""]
    if result.grader_side_errors:
        lines += ["> Not graded fully because of a grader-side error (not the student's): the score is not a grade. "
                  "Fix the platform and run `grader batch` again.", ""]
    if result.error:
        lines += [f"> Grading failed: {result.error}", ""]
    if result.import_error:
        lines += ["Every item that needs the student's module failed because of this:", "",
                  _fence(result.import_error), ""]
    lines += ["| item | points | status | visibility |", "|---|---:|---|---|"]
    lines += [f"| {i.id} | {i.points:g} / {i.max_points:g} | {i.status} | {i.visibility} |" for i in result.items]
    for item in result.items:
        lines += ["", f"## {item.id}: {item.name}", "", _fence(item.message)]
        if item.output.strip():
            lines += ["", "Output of the submission:", "", _fence(item.output)]
    if result.notes:
        lines += ["", "## Notes for the course staff", ""] + [f"- {n}" for n in result.notes]
    return "\n".join(lines) + "\n"
