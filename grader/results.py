"""Item and submission results: the only model the reporters read."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

PASSED, FAILED, ERROR = "passed", "failed", "error"


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
