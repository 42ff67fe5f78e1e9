"""The submissions of a batch: a folder of submission folders, or a Gradescope export whose
`submission_metadata.yml` says who submitted each folder and when; and how late each one is.

An export's metadata maps each folder (`submission_123`) to Ruby-style keys, e.g.

    submission_123:
      :submitters:
      - :name: Ada Lovelace
        :sid: '222334'
        :email: ada@example.edu
      :created_at: 2024-03-01 23:47:27.018556000 Z
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

from .results import Submitter

GRADESCOPE_METADATA = "submission_metadata.yml"


@dataclass(frozen=True)
class Submission:
    id: str                         # the folder's name: unique within the batch
    submitters: tuple[Submitter, ...]
    folder: Path
    solution: Path | None           # None: no solution file in the folder
    submitted_at: datetime | None = None

    @property
    def student(self) -> str:
        return ", ".join(s.name for s in self.submitters)


def _field(entry: dict, key: str):
    """Gradescope writes ':name'; a hand-made file may write 'name'."""
    value = entry.get(f":{key}")
    return entry.get(key) if value is None else value


def _submitters(meta) -> tuple[Submitter, ...]:
    people = _field(meta, "submitters") if isinstance(meta, dict) else None
    found = []
    for p in people if isinstance(people, list) else []:
        if not isinstance(p, dict):
            continue
        name, sid, email = (str(_field(p, k) or "") for k in ("name", "sid", "email"))
        if name or sid or email:
            found.append(Submitter(name or email or sid, sid, email))
    return tuple(found)


def parse_time(value) -> datetime | None:
    """A timestamp as YAML or a person writes it; aware (a time without a zone is taken as UTC, as
    Gradescope writes them)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        text = value.strip().replace(" Z", "Z").replace(" +", "+").replace(" -", "-")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def read_metadata(folder: Path) -> dict[str, dict]:
    """A Gradescope export's metadata by folder name; {} for a plain folder of folders."""
    path = folder / GRADESCOPE_METADATA
    if not path.is_file():
        return {}
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc}); is this a Gradescope export?") from None
    return {str(k): v for k, v in doc.items() if isinstance(v, dict)} if isinstance(doc, dict) else {}


def discover(folder: str | Path, solution_file: str = "solution.py") -> list[Submission]:
    """The submissions in `folder`: each sub-folder is one; a Gradescope export's metadata names its
    students and its time, else the folder's name is the student and the time is unknown."""
    from .api import find_submission

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder of submissions")
    metadata = read_metadata(folder)
    subs = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        meta = metadata.get(sub.name, {})
        subs.append(Submission(sub.name, _submitters(meta) or (Submitter(sub.name),), sub,
                               find_submission(sub, solution_file), parse_time(_field(meta, "created_at"))))
    return subs


def parse_due(text: str) -> datetime:
    """--due: an ISO 8601 date and time; without a zone, this machine's local time."""
    try:
        due = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--due {text!r}: not an ISO 8601 date and time (e.g. 2024-03-01T23:59:00-05:00)") from None
    return due if due.tzinfo else due.astimezone()


def minutes_late(submitted_at: datetime | None, due: datetime | None) -> int | None:
    """Whole minutes after the due date, a started minute counting (0: on time); None when either is unknown."""
    if submitted_at is None or due is None:
        return None
    return max(0, math.ceil((submitted_at - due).total_seconds() / 60))
