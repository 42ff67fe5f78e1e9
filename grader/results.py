"""Item and submission results: the only model the reporters read."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

PASSED, FAILED, ERROR = "passed", "failed", "error"
STUDENT, PLATFORM = "student", "platform"   # who must act on a submission's error


@dataclass
class ItemResult:
    id: str
    name: str
    points: float
    max_points: float
    status: str                      # passed | failed | error (the grader itself failed)
    message: str                     # what the student reads; deterministic
    visibility: str = "visible"
    output: str = ""                 # the student's captured stdout/stderr, trimmed
    details: dict = field(default_factory=dict)   # e.g. device, accuracy; deterministic
    duration_s: float = 0.0          # timing lives here, never in the message

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SubmissionResult:
    assignment: str
    solution: str
    items: list[ItemResult]
    notes: list[str] = field(default_factory=list)       # for the instructor: sandbox notes
    error: str | None = None                             # the grader could not grade at all
    hidden_items_exist: bool = False
    duration_s: float = 0.0
    student: str | None = None
    error_by: str | None = None       # who must act on `error`: STUDENT (no solution.py) or PLATFORM (torch missing)
    import_error: str | None = None   # solution.py could not be imported (a syntax error, a crash at import):
                                      # the student's; every item that needed the module failed with it

    @property
    def grader_side_errors(self) -> list[str]:
        """Why the grader, not the student, kept this result from being a grade ([] when it is one): the
        platform's submission-level error, else each item the grader could not judge (status error)."""
        if self.error and self.error_by == PLATFORM:
            return [self.error]
        return [f"{i.id}: {i.message}" for i in self.items if i.status == ERROR]

    @property
    def score(self) -> float:
        return round(sum(i.points for i in self.items), 6)

    @property
    def max_score(self) -> float:
        return round(sum(i.max_points for i in self.items), 6)

    @property
    def all_passed(self) -> bool:
        return self.error is None and all(i.passed for i in self.items)

    def summary(self) -> str:
        """One line; never "all passed" when hidden items exist and were not run."""
        if self.error:
            return f"Grading failed: {self.error}"
        failed = [i for i in self.items if not i.passed]
        scope = "public checks" if self.hidden_items_exist else "checks"
        if not failed:
            return f"All {len(self.items)} {scope} passed ({self.score:g}/{self.max_score:g})."
        return (f"{len(failed)} of {len(self.items)} {scope} failed: {', '.join(i.id for i in failed)} "
                f"({self.score:g}/{self.max_score:g}).")

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(score=self.score, max_score=self.max_score)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SubmissionResult":
        fields = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        fields["items"] = [ItemResult(**i) for i in d.get("items", [])]
        return cls(**fields)


@dataclass(frozen=True)
class Submitter:
    """A student behind a submission: from a Gradescope export's metadata, else the folder's name."""
    name: str
    sid: str = ""       # the student id (Gradescope's :sid:, the SIS id)
    email: str = ""


@dataclass
class BatchRow:
    """One submission of a batch as the gradebook reports it: who, when, and its result (never cached
    with the result: identical files of two students share one cache entry)."""
    submission: str                     # the folder's name
    submitters: list[Submitter]         # a group submission has several
    result: SubmissionResult
    submitted_at: datetime | None = None
    minutes_late: int | None = None     # whole minutes after the due date (0: on time); None: no due date or time
    late: bool | None = None            # later than the due date plus the grace period

    @property
    def student(self) -> str:
        return ", ".join(s.name for s in self.submitters)

    @property
    def error(self) -> str | None:
        """What kept this submission from a full grading: the platform's first, then the student's."""
        r = self.result
        return "; ".join(r.grader_side_errors) or r.error or r.import_error or None

    @property
    def error_by(self) -> str | None:
        if self.result.grader_side_errors:
            return PLATFORM
        if self.result.error or self.result.import_error:
            return self.result.error_by or STUDENT
        return None
