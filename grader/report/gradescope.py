"""Gradescope's results.json: the only module that knows that format.

https://gradescope-autograders.readthedocs.io/en/latest/specs/ : top level `score`,
`execution_time`, `output`, `stdout_visibility`, `tests`; each test `name`, `score`, `max_score`,
`status`, `visibility`, `output`.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ..results import SubmissionResult
from ..rubric import PUBLIC

MAX_TEST_OUTPUT = 8000


def _test_output(item) -> str:
    text = item.message
    if item.output.strip():
        text += "\n\nYour code printed:\n" + item.output
    if len(text) > MAX_TEST_OUTPUT:
        text = text[:MAX_TEST_OUTPUT] + "\n[... trimmed]"
    return text


def student_summary(result: SubmissionResult) -> str:
    """The top-level output, which students always see: it names and counts the `visible` items only.
    The others appear (or not) through their own test's visibility."""
    if result.error:
        return f"Grading failed: {result.error}"
    shown = [i for i in result.items if i.visibility == PUBLIC]
    others = len(result.items) - len(shown)
    failed = [i for i in shown if not i.passed]
    points = f"{sum(i.points for i in shown):g}/{sum(i.max_points for i in shown):g}"
    if not shown:
        text = "Every check of this assignment is shown once the course staff release it."
    elif failed:
        text = f"{len(failed)} of {len(shown)} public checks failed: {', '.join(i.id for i in failed)} ({points})."
    else:
        text = f"All {len(shown)} public checks passed ({points})."
    if shown and others:
        text += " Further checks are graded too; their results appear when the course staff release them."
    return text


def to_gradescope(result: SubmissionResult, *, include_timing: bool = True) -> dict:
    lines = [student_summary(result)]
    if result.student:
        lines.insert(0, f"Submission of {result.student}.")
    hidden = {i.id for i in result.items if i.visibility != PUBLIC}
    doc = {
        "output": "\n".join(lines),
        "output_format": "text",
        "stdout_visibility": "hidden",
        "tests": [],
    }
    if not hidden:  # else Gradescope adds up the tests itself, each shown as its visibility allows
        doc["score"] = result.score
    if include_timing:
        doc["execution_time"] = round(result.duration_s, 2)
    for number, item in enumerate(result.items, start=1):
        test = {
            "name": f"{item.id}: {item.name}",
            "number": str(number),
            "score": item.points,
            "max_score": item.max_points,
            "status": "passed" if item.passed else "failed",
            "visibility": item.visibility,
            "output": _test_output(item),
        }
        doc["tests"].append(test)
    notes = [n for n in result.notes if n.split(":", 1)[0] not in hidden]  # those stay in their test
    if notes or result.error:
        doc["extra_data"] = {"notes": notes, "error": result.error}
    return doc


def error_document(message: str) -> dict:
    """What is written when the grader itself fails: a score of 0 and a readable error."""
    return {"score": 0, "output": f"The autograder failed and could not grade this submission: {message}\n"
                                  "Your course staff have been told; resubmitting will not help until they fix it.",
            "output_format": "text", "stdout_visibility": "hidden", "tests": [],
            "extra_data": {"error": message}}


def write_json(doc: dict, path: str | Path) -> None:
    """Atomically replaces `path`, over whatever was there."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".results-")
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
