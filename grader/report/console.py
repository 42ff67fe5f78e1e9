"""The terminal report: one line per item as it finishes, then the feedback of every failing item."""
from __future__ import annotations

import sys
import textwrap

from ..results import ItemResult, SubmissionResult


class Console:
    def __init__(self, stream=None, color: bool | None = None):
        self.stream = stream or sys.stdout
        self.color = self.stream.isatty() if color is None else color
        encoding = (getattr(self.stream, "encoding", None) or "").lower()
        self.marks = ("✓", "✗", "!") if "utf" in encoding else ("ok", "FAIL", "ERR")
        self.width = 22

    def _paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def header(self, title: str, assignment: str, scope: str, n_items: int, ids=()) -> None:
        self.width = max([22, *map(len, ids)])
        print(f"Grading {title!r} ({assignment}): {n_items} {scope} item(s)", file=self.stream)

    def warning(self, text: str) -> None:
        print(self._paint(f"Warning: {text}.", "33"), file=self.stream)

    def item(self, r: ItemResult) -> None:
        mark = {"passed": self.marks[0], "failed": self.marks[1]}.get(r.status, self.marks[2])
        code = {"passed": "32", "failed": "31"}.get(r.status, "33")
        score = f"{r.points:g}/{r.max_points:g}"
        print(f"  {self._paint(mark.ljust(4), code)} {r.id:<{self.width}} {score:>7}  {r.name}", file=self.stream, flush=True)

    def feedback(self, result: SubmissionResult) -> None:
        failing = [r for r in result.items if not r.passed]
        for r in failing:
            print(f"\n{self._paint(r.id, '1')}: {r.name}", file=self.stream)
            print(textwrap.indent(r.message, "    "), file=self.stream)
            if r.output.strip():
                print("    Your code printed:", file=self.stream)
                print(textwrap.indent(r.output.rstrip(), "      | "), file=self.stream)
        for note in result.notes:
            print(f"\nNote: {note}", file=self.stream)
        print("\n" + self._paint(result.summary(), "1"), file=self.stream)
