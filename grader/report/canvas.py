"""canvas.csv: the batch's totals in Canvas's gradebook import format (Grades > Import); the only
module that knows that format.

What Canvas's importer (canvas-lms, app/models/gradebook_importer.rb) reads:
- a header whose first cell holds "Student" and second "ID"; with "SIS User ID" then "SIS Login ID"
  in the third and fourth, the student columns end at the fifth, which must be "Section";
- every later column is an assignment, headed "Title (id)" as Canvas's own export heads it; a
  header without an id matches an assignment by its title, else creates one;
- an optional row whose first cell holds "Points Possible" sets a new assignment's points;
- a student is found by ID (Canvas's user id), else SIS User ID, else SIS Login ID, else name;
- an empty cell changes nothing (an existing score stays).

Our rows: the student's name, no Canvas ID (an export does not carry it), Gradescope's sid as the
SIS User ID, the email as the SIS Login ID, no section, and the total; a submission with a
grader-side error gets an empty cell, never a 0.
"""
from __future__ import annotations

import csv
from pathlib import Path

from ..results import BatchRow

STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_POSSIBLE = "Points Possible"


def write_csv(rows: list[BatchRow], *, column: str, points_possible: float, path: Path) -> None:
    """column: the assignment's header, "Title (id)" for an existing Canvas assignment."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*STUDENT_COLUMNS, column])
        writer.writerow([POINTS_POSSIBLE, "", "", "", "", f"{points_possible:g}"])
        for row in rows:
            score = "" if row.result.grader_side_errors else f"{row.result.score:g}"
            for person in row.submitters:
                writer.writerow([person.name, "", person.sid, person.email, "", score])
