"""What the tool ships: the Gradescope autograder zip and the student kit.

The autograder zip is what Gradescope unpacks into /autograder/source:

    setup.sh          run once when Gradescope builds the image (it has network then): system Python,
                      the pinned Python packages, the CPU build of torch for PyTorch assignments, and
                      the data set the rubric needs (Debian's package, else the four IDX files)
    run_autograder    run for every submission, as root: makes the sandbox user, locks the source and
                      results folders away from it, then `python3 -m grader gradescope`
    grader/           this package (Python sources only)
    rubrics/NAME.yaml the rubric, hidden items included, with the autograder's salt (other inputs
                      than the student kit's for the public items)
    reference/NAME/solution.py

and nothing else. The student kit holds the template, the public items, the reference's answers
recorded for the kit's inputs (never its code), the grader, and a README. Both archives are
byte-for-byte reproducible: sorted entries, fixed timestamps.
"""
from __future__ import annotations

import hashlib
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

import yaml

from . import __version__
from .rubric import PROJECT_ROOT, PUBLIC, Rubric

FIXED_TIME = (2020, 1, 1, 0, 0, 0)
# The IDX files of Fashion-MNIST as its authors publish them, for images without Debian's package.
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"
IDX_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz"]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def requirements() -> list[str]:
    """The project's own dependencies (pyproject.toml), hypothesis pinned there: derandomised hypothesis
    draws the same examples only within one version, so Gradescope gives the scores a local run gives."""
    try:
        found = [r for r in metadata.requires("dl-grader") or [] if "extra ==" not in r]
    except metadata.PackageNotFoundError:
        found = []
    if not found:
        import tomllib
        found = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return [r.replace(" ", "") for r in found]


def _pip(args: str) -> str:
    # Ubuntu 24.04's system Python refuses plain pip installs (PEP 668); 22.04's has no such flag.
    return f"python3 -m pip install -q --no-cache-dir {args} || python3 -m pip install -q --no-cache-dir " \
           f"--break-system-packages {args}"


def setup_sh(rubric: Rubric) -> str:
    lines = ["#!/usr/bin/env bash",
             f"# Gradescope image setup for the `{rubric.assignment}` autograder (built by `grader autograder`).",
             "set -euo pipefail",
             "export DEBIAN_FRONTEND=noninteractive",
             "apt-get update -qq",
             "apt-get install -y -qq python3 python3-pip curl >/dev/null",
             _pip(" ".join(f"'{r}'" for r in requirements()))]
    if rubric.sandbox.framework == "torch":
        version = (_version("torch") or "").split("+")[0]
        pin = f"torch=={version}" if version else "torch"
        lines += ["# The CPU build: a tenth of the CUDA build's size and memory (Gradescope has no GPU).",
                  _pip(f"'{pin}' --index-url https://download.pytorch.org/whl/cpu")]
    if rubric.data is not None and rubric.data.dataset == "fashion-mnist":
        target = "/usr/share/datasets/fashion-mnist"
        fetch = " && ".join(f"curl -fsSL {FASHION_MNIST_URL}/{f} -o {target}/{f}" for f in IDX_FILES)
        lines += ["# Fashion-MNIST for the accuracy gate: Debian's package, else the authors' IDX files.",
                  "apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || "
                  f"(mkdir -p {target} && {fetch})"]
    return "\n".join(lines) + "\n"


def run_autograder(rubric: Rubric) -> str:
    return f"""#!/usr/bin/env bash
# Gradescope runs this as root for every submission. The grader always writes results/results.json.
set -u
ROOT="${{GRADER_GRADESCOPE_ROOT:-/autograder}}"
SOURCE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${{GRADER_PYTHON:-python3}}"
if [ "$(id -u)" = 0 ]; then
    # The sandbox runs the submission as `nobody`: make sure it exists, and that it can read neither the
    # grader, the rubric and the reference, nor the results, even where namespaces are refused.
    id -u nobody >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin nobody
    mkdir -p "$ROOT/results"
    chown -R root "$SOURCE" "$ROOT/results"
    chmod -R go-rwx "$SOURCE" "$ROOT/results"
fi
cd "$SOURCE"
GRADER_GRADESCOPE_ROOT="$ROOT" exec "$PYTHON" -m grader gradescope --assignment {rubric.assignment}
"""


def autograder_files(rubric: Rubric) -> dict[str, bytes | Path]:
    """Archive name -> content (bytes) or file to copy."""
    files: dict[str, bytes | Path] = {"setup.sh": setup_sh(rubric).encode(),
                                      "run_autograder": run_autograder(rubric).encode()}
    package = PROJECT_ROOT / "grader"
    for path in sorted(package.rglob("*.py")):
        files[str(path.relative_to(PROJECT_ROOT))] = path
    files[f"rubrics/{rubric.assignment}.yaml"] = _rubric_yaml(rubric, public_only=False,
                                                              extra={"salt": salt_for(rubric)})
    files[str(rubric.reference.relative_to(PROJECT_ROOT))] = rubric.reference
    return files


def write_zip(files: dict[str, bytes | Path], out: Path, executable=("setup.sh", "run_autograder")) -> Path:
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


def build_autograder(rubric: Rubric, out: str | Path) -> Path:
    """Writes the Gradescope autograder zip for `rubric` to `out`."""
    if not rubric.reference.is_file():
        raise FileNotFoundError(f"{rubric.path}: the reference {rubric.reference} does not exist")
    return write_zip(autograder_files(rubric), Path(out))


def salt_for(rubric: Rubric) -> int:
    """The autograder's salt: derived from the reference and the rubric, so rebuilding the zip gives
    the same one (and the same grades), and a student, who has neither, cannot compute it."""
    digest = hashlib.sha256(rubric.reference.read_bytes() + rubric.path.read_bytes()).digest()
    return int.from_bytes(digest[:4], "big") | 1


def _rubric_yaml(rubric: Rubric, *, public_only: bool, extra: dict) -> bytes:
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


def record_reference(rubric: Rubric, path: Path) -> Path:
    """Grades the reference and the template on the rubric's public items with the reference behind a
    recorder, and saves what it answered (see sandbox/recording.py)."""
    from .checks import CHECKS
    from .runner import run_rubric
    from .sandbox.handle import LocalHandle
    from .sandbox.recording import RecordingHandle

    public = rubric.select(public_only=True)
    public = public.select(only=[i.id for i in public.items if not CHECKS[i.check].needs_data])
    recorder = RecordingHandle(LocalHandle.from_file(rubric.reference, "reference"))
    template = PROJECT_ROOT / "student_template" / rubric.assignment / rubric.solution_file
    for solution in (rubric.reference, template):
        if solution.is_file():
            run_rubric(public, solution, reference=recorder)
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


def build_kit(rubric: Rubric, out: str | Path) -> Path:
    """The student kit zip: template, public rubric, recorded reference answers, grader, README."""
    template = PROJECT_ROOT / "student_template" / rubric.assignment / rubric.solution_file
    if not template.is_file():
        raise FileNotFoundError(f"no template for {rubric.assignment!r} at {template}")
    with tempfile.TemporaryDirectory() as tmp:
        recording = record_reference(rubric, Path(tmp) / "recording.bin")
        name = f"recordings/{rubric.assignment}.bin"
        files: dict[str, bytes | Path] = {
            rubric.solution_file: template.read_bytes(),
            f"rubrics/{rubric.assignment}.yaml": _rubric_yaml(rubric, public_only=True, extra={"recording": name}),
            name: recording.read_bytes(),
            "pyproject.toml": _kit_pyproject(rubric).encode(),
            "README.md": _kit_readme(rubric).encode(),
        }
        for path in sorted((PROJECT_ROOT / "grader").rglob("*.py")):
            files[str(path.relative_to(PROJECT_ROOT))] = path.read_bytes()
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
