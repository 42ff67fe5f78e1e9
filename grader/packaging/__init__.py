"""What the tool ships, in two archives: the Gradescope autograder zip (`packaging/autograder.py`) and
the student kit (`packaging/kit.py`). Both are byte-for-byte reproducible: sorted entries, fixed
timestamps. What they share lives here.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import yaml

from ..rubric import PROJECT_ROOT, PUBLIC, Rubric

FIXED_TIME = (2020, 1, 1, 0, 0, 0)
# The versions grading runs on: the Gradescope zip installs them, the student kit lists them.
LOCK = PROJECT_ROOT / "grader" / "requirements.lock"


def _name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9_.-]*", requirement.strip()).group(0).lower().replace("_", "-")


def locked(rubric: Rubric | None = None) -> tuple[str, str]:
    """The lock for one rubric: the requirements every rubric installs, plus the pins of the
    packages `rubric` allows solution.py to import (as the rubric writes them where the lock has no
    pin), as file text; and torch's pin."""
    core, optional, torch, section = [], {}, "", "core"
    for line in LOCK.read_text().splitlines():
        if line.startswith("# optional:"):
            section = "optional"
        spec = line.split("#", 1)[0].strip()
        if not spec:
            continue
        if _name(spec) == "torch":
            torch = spec.replace(" ", "")
        elif section == "core":
            core.append(spec)
        else:
            optional.setdefault(_name(spec), []).append(spec)
    if not torch:
        raise ValueError(f"{LOCK}: no torch pin (the PyTorch rubrics install the CPU build of that version)")
    for _, requirement in rubric.sandbox.packages if rubric else ():
        core += optional.get(_name(requirement), [requirement])
    return "\n".join(dict.fromkeys(core)) + "\n", torch


def write_zip(files: dict[str, bytes | Path], out: Path, executable=()) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            content = files[name]
            data = content.read_bytes() if isinstance(content, Path) else content
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = (0o755 if name in executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out


def grader_sources() -> dict[str, Path]:
    """Archive name -> file, for the grader package's Python sources."""
    return {str(p.relative_to(PROJECT_ROOT)): p for p in sorted((PROJECT_ROOT / "grader").rglob("*.py"))}


def rubric_yaml(rubric: Rubric, *, public_only: bool, extra: dict) -> bytes:
    """The rubric file as it ships: all items (autograder) or the public ones (kit), plus `extra`."""
    raw = yaml.safe_load(rubric.path.read_text())
    if public_only:
        defaults = raw.get("defaults") or {}
        keep = [i for i in raw["items"] if i.get("visibility", defaults.get("visibility", "visible")) == PUBLIC]
        ids = {i["id"] for i in keep}
        for item in keep:
            deps = item.get("depends_on")
            if deps:
                item["depends_on"] = [d for d in ([deps] if isinstance(deps, str) else deps) if d in ids]
        raw["hidden_elsewhere"] = len(raw["items"]) - len(keep)  # never their ids or contents
        raw["items"] = keep
        raw["total_points"] = sum(i["points"] for i in keep)
    raw.pop("salt", None)
    raw.update(extra)
    header = f"# The `{rubric.assignment}` rubric{' (public items only)' if public_only else ''}, as shipped.\n"
    return (header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=110)).encode()
