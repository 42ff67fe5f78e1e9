"""The student kit: the template, the public items, the reference's answers recorded for the kit's
inputs (never its code), the grader, and a README.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .. import __version__
from ..rubric import PROJECT_ROOT, Rubric
from . import grader_sources, requirements, rubric_yaml, write_zip


@dataclass(frozen=True)
class Variant:
    """A wrong solution the kit's recording follows too (a known bug, a past year's submission): the
    reference's answers on the inputs its failures shrink through, so that the kit reports such a bug
    with the same smallest example as grading does. Only its public `items` when given. Its code
    runs in the sandbox at build time and is never shipped."""
    solution: Path
    items: tuple[str, ...] | None = None


def record_reference(rubric: Rubric, path: Path, variants: Sequence[Variant] = ()) -> Path:
    """Grades the reference, the template and the variants on the rubric's public items with the
    reference behind a recorder, and saves what it answered (see sandbox/recording.py)."""
    from ..checks import CHECKS
    from ..runner import run_rubric
    from ..sandbox.handle import LocalHandle
    from ..sandbox.recording import RecordingHandle

    public = rubric.select(public_only=True)
    public = public.select(only=[i.id for i in public.items if not CHECKS[i.check].needs_data])
    recorder = RecordingHandle(LocalHandle.from_file(rubric.reference, "reference"))
    template = PROJECT_ROOT / "student_template" / rubric.assignment / rubric.solution_file
    runs = [Variant(rubric.reference), Variant(template), *variants]
    for run in runs:
        if Path(run.solution).is_file():
            items = public if run.items is None else public.select(only=list(run.items))
            run_rubric(items, run.solution, reference=recorder)
    return recorder.save(path)


KIT_README = """# Student kit: `{assignment}` ({title})

This folder holds your starting point (`solution.py`), the autograder's public checks, and the
grader itself: the same code that grades you on Gradescope. It holds no solution and no hidden
checks. Gradescope also runs hidden checks, and draws other inputs for the public ones, so make your
code right, not just these checks green.

## Install (once)

```bash
pip install -e .
```

{torch_note}## Check your work

```bash
grader check solution.py --assignment {assignment}
```

One line per check, then, for each failing one, what was expected, what came back, where (the
smallest failing input found), and often the likely cause ("dW is the transpose of the expected
gradient", "db is N times too large"). The exit status is 0 only when every public check passed.
Run one check with `--item ID`. The same checks run as a test suite:

```bash
pytest --solution solution.py --assignment {assignment}          # -k NAME, -x, --lf as usual
```

A check marked "Not checked here" compares with the reference solution on an input the kit holds no
answer for (your code took another path, usually after an earlier error): fix the other checks
first; Gradescope checks it in full.

{data_note}"""


def build_kit(rubric: Rubric, out: str | Path, variants: Sequence[Variant] = ()) -> Path:
    """The student kit zip: template, public rubric, recorded reference answers, grader, README."""
    template = PROJECT_ROOT / "student_template" / rubric.assignment / rubric.solution_file
    if not template.is_file():
        raise FileNotFoundError(f"no template for {rubric.assignment!r} at {template}")
    with tempfile.TemporaryDirectory() as tmp:
        recording = record_reference(rubric, Path(tmp) / "recording.bin", variants)
        name = f"recordings/{rubric.assignment}.bin"
        files: dict[str, bytes | Path] = {
            rubric.solution_file: template.read_bytes(),
            f"rubrics/{rubric.assignment}.yaml": rubric_yaml(rubric, public_only=True, extra={"recording": name}),
            name: recording.read_bytes(),
            "pyproject.toml": _kit_pyproject(rubric).encode(),
            "README.md": _kit_readme(rubric).encode(),
        }
        files.update(grader_sources())
        return write_zip(files, Path(out), executable=())


def _kit_pyproject(rubric: Rubric) -> str:
    deps = requirements() + (["torch>=2.1"] if rubric.sandbox.framework == "torch" else []) + ["pytest>=8"]
    listed = ", ".join(f'"{d}"' for d in deps)
    return f"""[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "grader-kit-{rubric.assignment.replace('_', '-')}"
version = "{__version__}"
description = "Student kit of the {rubric.assignment} assignment: the autograder's public checks"
requires-python = ">=3.10"
dependencies = [{listed}]

[project.scripts]
grader = "grader.cli:main"

[project.entry-points.pytest11]
grader = "grader.pytest_plugin"

[tool.setuptools.packages.find]
include = ["grader*"]
"""


def _kit_readme(rubric: Rubric) -> str:
    torch_note = ("PyTorch is needed: `pip install torch` (on a laptop without a GPU, the CPU build is "
                  "smaller: `pip install torch --index-url https://download.pytorch.org/whl/cpu`).\n\n"
                  if rubric.sandbox.framework == "torch" else "")
    data_note = ""
    if rubric.data is not None:
        data_note = ("## Data\n\nThe accuracy check trains on Fashion-MNIST, never downloaded by the grader: "
                     "`sudo apt-get install dataset-fashion-mnist` (Debian, Ubuntu), or the four IDX files in "
                     "a folder passed as `--data-root DIR` (torchvision's `FashionMNIST/raw/` layout works).\n")
    return KIT_README.format(assignment=rubric.assignment, title=rubric.title, torch_note=torch_note,
                             data_note=data_note)
