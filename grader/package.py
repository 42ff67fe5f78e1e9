"""The Gradescope autograder zip: what Gradescope unpacks into /autograder/source.

    setup.sh          run once when Gradescope builds the image (it has network then): system Python,
                      the pinned Python packages, the CPU build of torch for PyTorch assignments, and
                      the data set the rubric needs (Debian's package, else the four IDX files)
    run_autograder    run for every submission, as root: makes the sandbox user, locks the source and
                      results folders away from it, then `python3 -m grader gradescope`
    grader/           this package (Python sources only)
    rubrics/NAME.yaml the rubric, hidden items included
    reference/NAME/solution.py

and nothing else. The archive is byte-for-byte reproducible: sorted entries, fixed timestamps.
"""
from __future__ import annotations

import zipfile
from importlib import metadata
from pathlib import Path

from .rubric import PROJECT_ROOT, Rubric

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
    files[f"rubrics/{rubric.assignment}.yaml"] = rubric.path
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
