"""The Gradescope autograder zip, as Gradescope unpacks it into /autograder/source:

    setup.sh          run once when Gradescope builds the image (it has network then): a virtual
                      environment with the pinned packages, the CPU build of torch for PyTorch
                      assignments, the data set the rubric needs (Debian's package, else the four
                      IDX files, checksums verified)
    run_autograder    copied to /autograder/run_autograder and run from there for every submission,
                      as root: makes the sandbox user, locks source/ and results/ away from it, then
                      `python -m grader gradescope` from source/
    grader/           this package (Python sources only)
    requirements.lock the pinned Python packages (grader/requirements.lock, torch aside)
    rubrics/NAME.yaml the rubric, hidden items included, with grading's salt written down (other
                      inputs than the student kit's for the public items; the same as `grader grade`)
    reference/NAME/solution.py

and nothing else.
"""
from __future__ import annotations

from pathlib import Path

from ..rubric import PROJECT_ROOT, Rubric
from . import grader_sources, locked, rubric_yaml, write_zip

TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# Fashion-MNIST's IDX files from its authors' repository (over HTTPS), for images without Debian's
# package. Each download is checked against the MD5 the authors publish (torchvision checks the same)
# and its content against the SHA-256 of Debian's `dataset-fashion-mnist` files once unpacked.
FASHION_MNIST_URL = "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion"
IDX_FILES = {  # name: (published MD5 of the .gz, SHA-256 of the unpacked file)
    "train-images-idx3-ubyte.gz": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                                   "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train-labels-idx1-ubyte.gz": ("25c81989df183df01b3e8a0aad5dffbe",
                                   "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "t10k-images-idx3-ubyte.gz": ("bef4ecab320f06d8554ea6380940ec79",
                                  "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "t10k-labels-idx1-ubyte.gz": ("bb300cfdad3c16e7a12a480ee83cd310",
                                  "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}


SETUP = """#!/usr/bin/env bash
# Gradescope image setup for the `{assignment}` autograder (built by `grader autograder`). Gradescope
# runs it once, as root, while it builds the image (with network). Everything grading needs goes into
# a virtual environment of its own, pinned by requirements.lock, whatever the image's Python has.
set -euo pipefail
ROOT="${{GRADER_GRADESCOPE_ROOT:-/autograder}}"
SOURCE="$ROOT/source"
if [ "${{GRADER_SETUP_SYSTEM:-1}}" = 1 ]; then  # 0: the Python environment only (the packaging test)
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq python3 python3-venv ca-certificates curl >/dev/null
{data}fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {{
    echo "setup.sh: Python 3.10 or later is needed: choose Gradescope's Ubuntu 22.04 or 24.04 base image" >&2; exit 1; }}
python3 -m venv "$ROOT/venv"
PIP=("$ROOT/venv/bin/python" -m pip install -q --no-cache-dir --disable-pip-version-check)
"${{PIP[@]}}" -r "$SOURCE/requirements.lock"
{torch}"$ROOT/venv/bin/python" -c "import numpy, scipy, yaml, hypothesis"
"""

DATA = """    # Fashion-MNIST for the accuracy gate: Debian's package, else the authors' files, verified.
    if ! apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; then
        target=/usr/share/datasets/fashion-mnist
        mkdir -p "$target"
        fetch() {{  # file, the MD5 its authors publish, the SHA-256 of its unpacked content
            curl -fsSL --retry 3 "{url}/$1" -o "$target/$1"
            echo "$2  $target/$1" | md5sum --check --quiet -
            [ "$(gunzip -c "$target/$1" | sha256sum | cut -d' ' -f1)" = "$3" ] || {{ echo "$1: wrong content" >&2; exit 1; }}
        }}
{fetch}    fi
"""


def setup_sh(rubric: Rubric) -> str:
    _, torch = locked()
    data = ""
    if rubric.data is not None and rubric.data.dataset == "fashion-mnist":
        data = DATA.format(url=FASHION_MNIST_URL, fetch="".join(f"        fetch {name} {md5} {sha256}\n"
                                                                for name, (md5, sha256) in IDX_FILES.items()))
    torch_line = ""
    if rubric.sandbox.framework == "torch":
        torch_line = ("# The CPU build: a tenth of the CUDA build's size and memory (Gradescope has no GPU).\n"
                      f'"${{PIP[@]}}" \'{torch}\' --index-url "${{GRADER_TORCH_INDEX:-{TORCH_CPU_INDEX}}}"\n')
    return SETUP.format(assignment=rubric.assignment, data=data, torch=torch_line)


def run_autograder(rubric: Rubric) -> str:
    return f"""#!/usr/bin/env bash
# Gradescope copies this file to /autograder/run_autograder and runs it from /autograder, as root, for
# every submission; the zip's contents lie in /autograder/source. It always leaves results/results.json.
set -u
ROOT="${{GRADER_GRADESCOPE_ROOT:-/autograder}}"
SOURCE="$ROOT/source"
PYTHON="$ROOT/venv/bin/python"  # made by setup.sh
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
if [ "$(id -u)" = 0 ]; then
    # The sandbox runs the submission as `nobody`: make sure it exists, and that it can read neither the
    # grader, the rubric and the reference, nor the results, even where namespaces are refused. Only
    # these two folders change hands: the submission and the rest of the root are left as they are.
    id -u nobody >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin nobody
    chown -R root "$SOURCE" "$ROOT/results"
    chmod -R go-rwx "$SOURCE" "$ROOT/results"
fi
cd "$SOURCE" && PYTHONPATH="$SOURCE" GRADER_GRADESCOPE_ROOT="$ROOT" \
    "$PYTHON" -m grader gradescope --assignment {rubric.assignment}
status=$?
if [ ! -s "$RESULTS" ]; then  # the grader could not even start: still a result, for the course staff
    printf '%s\n' '{{"score": 0, "output": "The autograder failed before grading (exit status '"$status"'): see the autograder output; resubmitting will not help until the course staff fix it.", "stdout_visibility": "hidden", "tests": []}}' > "$RESULTS"
fi
exit 0
"""


def autograder_files(rubric: Rubric) -> dict[str, bytes | Path]:
    """Archive name -> content (bytes) or file to copy."""
    files: dict[str, bytes | Path] = {"setup.sh": setup_sh(rubric).encode(),
                                      "run_autograder": run_autograder(rubric).encode(),
                                      "requirements.lock": locked(rubric)[0].encode()}
    files.update(grader_sources())
    files[f"rubrics/{rubric.assignment}.yaml"] = rubric_yaml(rubric, public_only=False,
                                                              extra={"salt": rubric.salt})
    files[str(rubric.reference.relative_to(PROJECT_ROOT))] = rubric.reference
    return files


def build_autograder(rubric: Rubric, out: str | Path) -> Path:
    """Writes the Gradescope autograder zip for `rubric` to `out`."""
    if not rubric.reference.is_file():
        raise FileNotFoundError(f"{rubric.path}: the reference {rubric.reference} does not exist")
    return write_zip(autograder_files(rubric), Path(out), executable=("setup.sh", "run_autograder"))
