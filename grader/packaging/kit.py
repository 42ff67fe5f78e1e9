"""The student kit: the template, the public items, the reference's answers recorded for the kit's
inputs (never its code), the grader, and a README.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..rubric import PROJECT_ROOT, Rubric
from . import grader_sources, locked, rubric_yaml, write_zip
from .mutants import load_mutants, mutants_file


@dataclass(frozen=True)
class Variant:
    """A wrong solution the kit's recording follows too (a known bug, a past year's submission): the
    reference's answers on the inputs its failures shrink through, so that the kit reports such a bug
    with the same smallest example as grading does. Only its public `items` when given. Its code
    runs in the sandbox at build time and is never shipped."""
    solution: Path
    items: tuple[str, ...] | None = None


def record_reference(rubric: Rubric, path: Path, variants: Sequence[Variant] = (),
                     bugs: Sequence[Variant] = ()) -> Path:
    """Grades the reference, the template, the known bugs and the variants on the rubric's public items
    with the reference behind a recorder, and saves what it answered (see sandbox/recording.py)."""
    from ..checks import CHECKS
    from ..runner import run_rubric
    from ..sandbox.handle import LocalHandle
    from ..sandbox.recording import RecordingHandle

    public = rubric.select(public_only=True)
    public = public.select(only=[i.id for i in public.items if not CHECKS[i.check].needs_data])
    recorder = RecordingHandle(LocalHandle.from_file(rubric.reference, "reference"))
    template = PROJECT_ROOT / "student_template" / rubric.assignment / rubric.solution_file

    def grade(run: Variant):
        items = public if run.items is None else public.select(only=list(run.items))
        if Path(run.solution).is_file() and items.items:
            run_rubric(items, run.solution, reference=recorder)

    with recorder.collecting_deterministically():
        grade(Variant(rubric.reference))
        grade(Variant(template))
        # Checks that never asked the reference compute their expectations themselves (the PyTorch
        # assignments'): its known bugs would add nothing to record, at a worker start each.
        for run in [*(bugs if recorder.table else ()), *variants]:
            grade(run)
    return recorder.save(path)


def known_bugs(rubric: Rubric, folder: Path) -> list[Variant]:
    """The assignment's mutants (mutants.yaml beside the reference, validated against it and the rubric),
    each written into `folder` as the reference with its bug, for its items."""
    path = mutants_file(rubric.reference)
    if not path.is_file():
        return []
    reference = rubric.reference.read_text()
    variants = []
    for number, mutant in enumerate(load_mutants(path, rubric.reference, [i.id for i in rubric.items])):
        solution = folder / f"mutant{number}" / rubric.solution_file
        solution.parent.mkdir(parents=True)
        solution.write_text(mutant.apply(reference))
        variants.append(Variant(solution, mutant.items))
    return variants


KIT_README = """# Student kit: `{assignment}` ({title})

This folder holds your starting point (`solution.py`), the autograder's public checks, and the
grader itself: the same code that grades you on Gradescope. It holds no solution and no hidden
checks. Gradescope also runs hidden checks, and draws other inputs for the public ones, so make your
code right, not just these checks green.

## Install (once)

Python 3.10 or later, in this folder. The grader runs from here: nothing is built or installed but
its dependencies, into a virtual environment of this folder (`.venv`). On Linux and macOS:

```bash
python3 -m venv .venv
.venv/bin/python -m pip install -r requirements.txt
```

On Debian and Ubuntu, `python3 -m venv` needs `sudo apt install python3-venv` first. On Windows
(PowerShell), the same with the Windows paths:

```powershell
py -m venv .venv
.venv\\Scripts\\python -m pip install -r requirements.txt
.venv\\Scripts\\python -m grader check solution.py --assignment {assignment}
```

Native Windows has no sandbox: your code runs inside the grader's own process, without memory limits,
and the output says so. The checks, verdicts and messages are the same. For the full sandbox use WSL
(Ubuntu) and the Linux commands.

{torch_note}## Check your work

```bash
.venv/bin/python -m grader check solution.py --assignment {assignment}
```

One line per check, then, for each failing one, what was expected, what came back, where (the
smallest failing input found), and often the likely cause ("dW is the transpose of the expected
gradient", "db is N times too large"). The exit status is 0 only when every public check passed.
Run one check with `--item ID`. The same checks run as a test suite:

```bash
.venv/bin/python -m pytest --solution solution.py --assignment {assignment}   # -k NAME, -x, --lf as usual
```

Your code runs in a separate process with memory and CPU-time limits, as on Gradescope (and, as root
on Linux, as an unprivileged user); where this computer refuses a limit, the output says which. This
self-check is no security boundary: your grade comes from Gradescope either way.

A check marked "Not checked here" compares with the reference solution on an input the kit holds no
answer for (your code took another path than the kit recorded): fix the other checks first;
Gradescope checks it in full.

{data_note}"""

KIT_CONFTEST = """# `python -m pytest --solution solution.py --assignment NAME` from this folder: the grader's plugin.
pytest_plugins = ["grader.pytest_plugin"]
"""


def build_kit(rubric: Rubric, out: str | Path, variants: Sequence[Variant] = ()) -> Path:
    """The student kit zip: template, public rubric, recorded reference answers, grader, README. The
    recording follows the assignment's known bugs too (`known_bugs`), then `variants`."""
    template = PROJECT_ROOT / "student_template" / rubric.assignment / rubric.solution_file
    if not template.is_file():
        raise FileNotFoundError(f"no template for {rubric.assignment!r} at {template}")
    with tempfile.TemporaryDirectory() as tmp:
        bugs = known_bugs(rubric, Path(tmp) / "mutants")
        recording = record_reference(rubric, Path(tmp) / "recording.bin", variants, bugs)
        name = f"recordings/{rubric.assignment}.bin"
        files: dict[str, bytes | Path] = {
            rubric.solution_file: template.read_bytes(),
            # salt 0 stated: loaded anywhere (even beside a reference), it draws the kit's inputs
            f"rubrics/{rubric.assignment}.yaml": rubric_yaml(rubric, public_only=True,
                                                             extra={"recording": name, "salt": 0}),
            name: recording.read_bytes(),
            "requirements.txt": _kit_requirements(rubric).encode(),
            "conftest.py": KIT_CONFTEST.encode(),
            "README.md": _kit_readme(rubric).encode(),
        }
        files.update(grader_sources())
        return write_zip(files, Path(out), executable=())


def _kit_requirements(rubric: Rubric) -> str:
    """Pinned as grading is (derandomised hypothesis draws the same examples only within one version),
    the packages the rubric lets solution.py import included, without torch: PyPI's default build is
    the GPU one, gigabytes a laptop does not need."""
    return ("# The grader's dependencies, at the versions Gradescope grades with.\n"
            + locked(rubric)[0] + "pytest>=8\n")


def _kit_readme(rubric: Rubric) -> str:
    torch_note = ""
    if rubric.sandbox.framework == "torch":
        pin = locked(rubric)[1]
        torch_note = ("PyTorch is needed too, the CPU build (a few hundred MB; a GPU is never needed here):\n\n"
                      "```bash\n"
                      f".venv/bin/python -m pip install '{pin}' --index-url https://download.pytorch.org/whl/cpu\n"
                      "```\n\n")
    data_note = ""
    if rubric.data is not None:
        data_note = ("## Data\n\nThe accuracy check trains on Fashion-MNIST, never downloaded by the grader: "
                     "`sudo apt-get install dataset-fashion-mnist` (Debian, Ubuntu), or the four IDX files in "
                     "a folder passed as `--data-root DIR` (torchvision's `FashionMNIST/raw/` layout works).\n")
    return KIT_README.format(assignment=rubric.assignment, title=rubric.title, torch_note=torch_note,
                             data_note=data_note)
