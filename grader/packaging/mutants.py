"""An assignment's known bugs: `mutants.yaml` beside its reference, each entry an edit of the reference's
code (`old` -> `new`), the items it must lose and a phrase their feedback must hold. The test suite
checks each; the student kit records the reference along their failing inputs. They quote the
reference, so they are as secret as it is: never shipped in the kit."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import yaml

from ..rubric import RubricError

FIELDS = ("name", "old", "new", "items", "phrase")


class MutantsError(RubricError, ValueError):
    def __init__(self, path, message: str, mutant: str | None = None, field: str | None = None):
        super().__init__(path, message, mutant, field, kind="mutant")


@dataclass(frozen=True)
class Mutant:
    name: str
    old: str
    new: str
    items: tuple[str, ...]
    phrase: str

    def apply(self, source: str) -> str:
        """`source` (the reference: `old` occurs in it once, as loading checked) with the bug."""
        return source.replace(self.old, self.new, 1)


def mutants_file(reference: Path) -> Path:
    return Path(reference).parent / "mutants.yaml"


def load_mutants(path: Path, reference: Path, item_ids: Iterable[str] | None = None) -> list[Mutant]:
    """The mutants of `path`, validated against the reference's code and, when given, the rubric's items."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise MutantsError(path, f"is not valid YAML: {exc}") from None
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise MutantsError(path, f"must be a list of mutants, each with the fields {', '.join(FIELDS)}")
    source = Path(reference).read_text()
    known = None if item_ids is None else set(item_ids)
    mutants: list[Mutant] = []
    for index, entry in enumerate(raw):
        mutants.append(_parse(path, entry, index, source, reference, known))
        if mutants[-1].name in [m.name for m in mutants[:-1]]:
            raise MutantsError(path, "is used by two mutants", mutants[-1].name, "name")
    return mutants


def _parse(path, entry, index: int, source: str, reference: Path, known: set[str] | None) -> Mutant:
    label = entry.get("name") if isinstance(entry, dict) and isinstance(entry.get("name"), str) else f"#{index + 1}"
    if not isinstance(entry, dict):
        raise MutantsError(path, f"must be a mapping with the fields {', '.join(FIELDS)}", label)
    for field in FIELDS:
        if field not in entry:
            raise MutantsError(path, "is missing", label, field)
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        raise MutantsError(path, f"unknown field(s) {', '.join(map(repr, unknown))} (known: {', '.join(FIELDS)})",
                           label)
    for field in ("name", "old", "new", "phrase"):
        if not isinstance(entry[field], str) or (field != "new" and not entry[field]):
            raise MutantsError(path, "must be a string" + (" (may be empty)" if field == "new" else ", not empty"),
                               label, field)
    items = entry["items"]
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise MutantsError(path, "must be a non-empty list of item ids", label, "items")
    if known is not None and set(items) - known:
        raise MutantsError(path, f"names unknown item(s) {', '.join(sorted(set(items) - known))}", label, "items")
    count = source.count(entry["old"])
    if count != 1:
        raise MutantsError(path, f"is found {count} times in {reference}: it must occur there exactly once "
                                 "(copy it from the reference, indentation included)", label, "old")
    if entry["new"] == entry["old"]:
        raise MutantsError(path, "is the same as 'old': the mutant changes nothing", label, "new")
    return Mutant(entry["name"], entry["old"], entry["new"], tuple(items), entry["phrase"])
