"""YAML rubrics -> validated dataclasses. The only module that knows the rubric format.

A rubric that does not validate raises `RubricError` before anything runs, naming the file, the
item and the field, and saying what is expected.
"""
from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from .checks import CHECKS, ParamError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RUBRIC_DIR = PROJECT_ROOT / "rubrics"
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
PUBLIC = "visible"
# Gradescope kills a run at its timeout (10 minutes unless the course raises it) and then writes no
# result at all: a rubric's items together stop well before that (see `budget_s`).
DEFAULT_BUDGET_S = 540.0


class RubricError(Exception):
    def __init__(self, path, message: str, item: str | None = None, field: str | None = None, *,
                 kind: str = "item"):
        """kind: what `item` names in the file (an item of a rubric, a mutant of a mutants file...)."""
        where = str(path)
        if item is not None:
            where += f": {kind} {item!r}"
        if field is not None:
            where += f", field {field!r}" if item is not None else f": field {field!r}"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Item:
    id: str
    name: str
    points: float
    check: str
    params: dict
    visibility: str = "visible"
    timeout_s: float = 30.0
    depends_on: tuple[str, ...] = ()
    description: str = ""

    @property
    def public(self) -> bool:
        return self.visibility == PUBLIC


@dataclass(frozen=True)
class DataSpec:
    dataset: str = "fashion-mnist"
    train_size: int = 55000
    val_size: int = 5000
    seed: int = 0


@dataclass(frozen=True)
class SandboxSpec:
    memory_mb: int = 2048
    import_timeout_s: float = 30.0
    output_limit_kb: int = 32
    max_message_mb: int = 256
    preload: tuple[str, ...] = ()
    forbidden_imports: tuple[str, ...] = ()
    forbidden_rule: str = ""
    framework: str = "numpy"          # "torch": the worker imports torch and its bridge
    # Third-party packages solution.py may import beyond the framework's own, as (import name, pip
    # requirement); the Gradescope zip installs them. Written `[tqdm, {sklearn: scikit-learn}]`.
    packages: tuple[tuple[str, str], ...] = ()

    @property
    def allowed_imports(self) -> list[str]:
        """What solution.py may import besides the standard library (see sandbox/import_policy.py)."""
        return ["numpy", *FRAMEWORK_PACKAGES.get(self.framework, ()), *(name for name, _ in self.packages)]


FRAMEWORKS = ("numpy", "torch")
FRAMEWORK_PACKAGES = {"torch": ("torch",)}


@dataclass(frozen=True)
class Rubric:
    assignment: str
    title: str
    path: Path
    reference: Path
    items: tuple[Item, ...]
    sandbox: SandboxSpec = field(default_factory=SandboxSpec)
    data: DataSpec | None = None
    solution_file: str = "solution.py"
    salt: int = 0                     # the examples' salt: grading's own (see `grading_salt`); 0 in the kit
    recording: Path | None = None     # the student kit's recorded reference answers (no reference there)
    hidden_elsewhere: int = 0         # the student kit's: hidden items that only Gradescope runs
    budget_s: float = DEFAULT_BUDGET_S  # all items of one submission together; later items end at once

    @property
    def total_points(self) -> float:
        return sum(i.points for i in self.items)

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def select(self, *, public_only: bool = False, only: list[str] | None = None) -> "Rubric":
        """The same rubric restricted to public items and/or the given item ids. The public view is the
        student's self-check, which draws the student kit's inputs (salt 0); grading, with or without
        hidden items, draws the rubric's own (its salt), wherever it runs."""
        items = [i for i in self.items if (not public_only or i.public) and (only is None or i.id in only)]
        return replace(self, items=tuple(items), salt=0 if public_only else self.salt)

    def scaled_timeouts(self, factor: float) -> "Rubric":
        return replace(self, items=tuple(replace(i, timeout_s=i.timeout_s * factor) for i in self.items))


_TOP = {"assignment", "title", "reference", "solution_file", "total_points", "sandbox", "data",
        "defaults", "items", "salt", "recording", "hidden_elsewhere", "budget_s"}
_ITEM = {"id", "name", "points", "check", "params", "visibility", "timeout_s", "depends_on", "description"}


def _suggest(key: str, allowed) -> str:
    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(sorted(allowed))})"


def _unknown(path, mapping: dict, allowed, item=None, section=None):
    for key in mapping:
        if key not in allowed:
            label = f"{section}.{key}" if section else key
            raise RubricError(path, f"unknown field{_suggest(str(key), allowed)}", item, label)


def _number(path, value, name, item=None, positive=True, integer=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if integer:
        ok = ok and float(value).is_integer()
    if not ok or (positive and value <= 0) or (not positive and value < 0):
        kind = "an integer" if integer else "a number"
        raise RubricError(path, f"must be {kind} {'> 0' if positive else '>= 0'}, got {value!r}", item, name)
    return int(value) if integer else float(value)


def _section(path, raw: dict, name: str, cls):
    data = raw.get(name) or {}
    if not isinstance(data, dict):
        raise RubricError(path, "must be a mapping", field=name)
    allowed = set(cls.__dataclass_fields__)
    _unknown(path, data, allowed, section=name)
    values = {}
    for key, value in data.items():
        default = cls.__dataclass_fields__[key].default
        if key == "packages":
            value = _packages(path, value, f"{name}.{key}")
        elif isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise RubricError(path, "must be a list of names", field=f"{name}.{key}")
            value = tuple(value)
        elif isinstance(default, str):
            if not isinstance(value, str):
                raise RubricError(path, f"must be a string, got {value!r}", field=f"{name}.{key}")
        elif key == "seed":
            value = _number(path, value, f"{name}.{key}", positive=False, integer=True)
        else:
            value = _number(path, value, f"{name}.{key}", integer=isinstance(default, int))
        values[key] = value
    return cls(**values)


def _packages(path, value, label: str) -> tuple[tuple[str, str], ...]:
    """`[tqdm, matplotlib>=3.7, {sklearn: scikit-learn}]` -> ((import name, pip requirement), ...)."""
    if not isinstance(value, list):
        raise RubricError(path, "must be a list of packages, e.g. [tqdm, {sklearn: scikit-learn}]", field=label)
    found = []
    for entry in value:
        if isinstance(entry, str):
            name = re.match(r"[A-Za-z0-9_.-]*", entry.strip()).group(0).lower().replace("-", "_")
            pair = (name, entry.strip())
        elif isinstance(entry, dict) and len(entry) == 1 and all(isinstance(x, str) for x in [*entry, *entry.values()]):
            pair = next(iter(entry.items()))
        else:
            raise RubricError(path, f"{entry!r} is neither a package name nor {{import_name: requirement}}", field=label)
        if not pair[0].isidentifier():
            raise RubricError(path, f"{pair[0]!r} is not a module name one can import", field=label)
        found.append(pair)
    return tuple(found)


def load_rubric(path: str | Path) -> Rubric:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise RubricError(path, f"cannot be read: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RubricError(path, f"is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise RubricError(path, "must be a mapping with 'assignment' and 'items'")
    _unknown(path, raw, _TOP)
    for key in ("assignment", "title", "reference"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise RubricError(path, "is required and must be a string", field=key)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", raw["assignment"]):
        raise RubricError(path, "must be lower-case letters, digits and _", field="assignment")

    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise RubricError(path, "must be a mapping", field="defaults")
    _unknown(path, defaults, {"timeout_s", "visibility"}, section="defaults")

    raw_items = raw.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise RubricError(path, "must be a non-empty list", field="items")
    items, seen = [], set()
    for index, entry in enumerate(raw_items):
        label = entry.get("id") if isinstance(entry, dict) and isinstance(entry.get("id"), str) else f"#{index + 1}"
        if not isinstance(entry, dict):
            raise RubricError(path, "must be a mapping", label)
        items.append(_parse_item(path, entry, label, defaults, seen))
        seen.add(items[-1].id)
    for item in items:
        for dep in item.depends_on:
            if dep not in seen:
                raise RubricError(path, f"names unknown item {dep!r}", item.id, "depends_on")
            if [i.id for i in items].index(dep) > [i.id for i in items].index(item.id):
                raise RubricError(path, f"item {dep!r} must come before this one", item.id, "depends_on")

    reference = (PROJECT_ROOT / raw["reference"]).resolve()
    if "salt" in raw:
        salt = _number(path, raw["salt"], "salt", positive=False, integer=True)
    else:
        salt = grading_salt(reference, text) if reference.is_file() else 0
    rubric = Rubric(
        assignment=raw["assignment"], title=raw["title"], path=path, reference=reference, items=tuple(items),
        sandbox=_section(path, raw, "sandbox", SandboxSpec),
        data=_section(path, raw, "data", DataSpec) if raw.get("data") else None,
        solution_file=raw.get("solution_file", "solution.py"),
        salt=salt,
        budget_s=_number(path, raw.get("budget_s", DEFAULT_BUDGET_S), "budget_s"),
        hidden_elsewhere=_number(path, raw.get("hidden_elsewhere", 0), "hidden_elsewhere", positive=False,
                                 integer=True),
        recording=(PROJECT_ROOT / raw["recording"]).resolve() if isinstance(raw.get("recording"), str) else None)
    if rubric.sandbox.framework not in FRAMEWORKS:
        raise RubricError(path, f"must be one of {', '.join(FRAMEWORKS)}, got {rubric.sandbox.framework!r}",
                          field="sandbox.framework")
    if "total_points" in raw:
        total = _number(path, raw["total_points"], "total_points")
        if abs(total - rubric.total_points) > 1e-9:
            raise RubricError(path, f"says {total:g} but the items add up to {rubric.total_points:g}",
                              field="total_points")
    needs_data = [i.id for i in items if CHECKS[i.check].needs_data]
    if needs_data and rubric.data is None:
        raise RubricError(path, f"is required by item(s) {', '.join(needs_data)}", field="data")
    return rubric


def _parse_item(path, entry: dict, label: str, defaults: dict, seen: set) -> Item:
    _unknown(path, entry, _ITEM, label)
    item_id = entry.get("id")
    if not isinstance(item_id, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", item_id):
        raise RubricError(path, "is required: lower-case letters, digits and _", label, "id")
    if item_id in seen:
        raise RubricError(path, "is used by two items", label, "id")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise RubricError(path, "is required and must be a string", label, "name")
    points = _number(path, entry.get("points"), "points", label, positive=False)  # 0: a gate item
    check = entry.get("check")
    if check not in CHECKS:
        raise RubricError(path, f"unknown check {check!r}{_suggest(str(check), CHECKS)}", label, "check")
    visibility = entry.get("visibility", defaults.get("visibility", "visible"))
    if visibility not in VISIBILITIES:
        raise RubricError(path, f"must be one of {', '.join(VISIBILITIES)}, got {visibility!r}", label, "visibility")
    timeout = _number(path, entry.get("timeout_s", defaults.get("timeout_s", 30)), "timeout_s", label)
    depends = entry.get("depends_on", [])
    if isinstance(depends, str):
        depends = [depends]
    if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
        raise RubricError(path, "must be a list of item ids", label, "depends_on")
    raw_params = entry.get("params") or {}
    if not isinstance(raw_params, dict):
        raise RubricError(path, "must be a mapping", label, "params")
    try:
        params = CHECKS[check].validate(raw_params)
    except ParamError as exc:
        raise RubricError(path, exc.message, label, f"params.{exc.name}") from None
    return Item(id=item_id, name=name, points=points, check=check, params=params, visibility=visibility,
                timeout_s=timeout, depends_on=tuple(depends), description=str(entry.get("description", "")))


def grading_salt(reference: Path, rubric_text: str) -> int:
    """The salt of grading when the rubric states none: derived from the reference and the rubric, so
    `grader grade`, `grader batch` and the Gradescope zip (which writes it down) draw the same examples
    and give the same scores, and a student, who has neither file, cannot compute it. The self-check
    (`grader check`, the student kit) draws with salt 0, so answers recorded for the kit do not carry
    over to grading."""
    digest = hashlib.sha256(reference.read_bytes() + rubric_text.encode()).digest()
    return int.from_bytes(digest[:4], "big") | 1


def rubric_path(assignment: str) -> Path:
    return RUBRIC_DIR / f"{assignment}.yaml"


def available_assignments() -> list[str]:
    return sorted(p.stem for p in RUBRIC_DIR.glob("*.yaml"))


def load_assignment(assignment: str) -> Rubric:
    path = rubric_path(assignment)
    if not path.is_file():
        known = ", ".join(available_assignments()) or "none"
        raise RubricError(path, f"no rubric for assignment {assignment!r} (available: {known})")
    return load_rubric(path)
