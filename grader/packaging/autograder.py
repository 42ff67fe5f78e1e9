"""The Gradescope autograder zip, as Gradescope unpacks it into /autograder/source:

    setup.sh          run once when Gradescope builds the image (it has network then): system Python,
                      the pinned Python packages, the CPU build of torch for PyTorch assignments, and
                      the data set the rubric needs (Debian's package, else the four IDX files)
    run_autograder    run for every submission, as root: makes the sandbox user, locks the source and
                      results folders away from it, then `python3 -m grader gradescope`
    grader/           this package (Python sources only)
    rubrics/NAME.yaml the rubric, hidden items included, with the autograder's salt (other inputs
                      than the student kit's for the public items)
    reference/NAME/solution.py

and nothing else.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..rubric import PROJECT_ROOT, Rubric
from . import _version, grader_sources, requirements, rubric_yaml, write_zip

# The IDX files of Fashion-MNIST as its authors publish them, for images without Debian's package.
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"
IDX_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz"]

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
    files.update(grader_sources())
    files[f"rubrics/{rubric.assignment}.yaml"] = rubric_yaml(rubric, public_only=False,
                                                              extra={"salt": salt_for(rubric)})
    files[str(rubric.reference.relative_to(PROJECT_ROOT))] = rubric.reference
    return files

def build_autograder(rubric: Rubric, out: str | Path) -> Path:
    """Writes the Gradescope autograder zip for `rubric` to `out`."""
    if not rubric.reference.is_file():
        raise FileNotFoundError(f"{rubric.path}: the reference {rubric.reference} does not exist")
    return write_zip(autograder_files(rubric), Path(out), executable=("setup.sh", "run_autograder"))


def salt_for(rubric: Rubric) -> int:
    """The autograder's salt: derived from the reference and the rubric, so rebuilding the zip gives
    the same one (and the same grades), and a student, who has neither, cannot compute it."""
    digest = hashlib.sha256(rubric.reference.read_bytes() + rubric.path.read_bytes()).digest()
    return int.from_bytes(digest[:4], "big") | 1
