"""The student kit as a student installs it: its README's commands, in a fresh virtual environment
(no system site packages), then its README's check command on the template and on the reference.
Also: without Unix's `pwd` and `resource` (macOS lacks some limits, Windows both) the check still runs
and says what was not applied; a PyTorch kit without torch says what to install, not a traceback.

About 30 s with pip's cache warm (the virtual environment and its install, once for the module)."""
from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import api

from .conftest import REFERENCE_MLP

FAST = ["relu", "softmax", "forward", "backward_relu", "update"]
NO_UNIX = "import sys\nfor name in ('pwd', 'resource', 'fcntl', 'grp'):\n    sys.modules[name] = None\n"


def _blocks(readme: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", readme, flags=re.S)


def _commands(readme: str, marker: str) -> list[str]:
    """The lines of the README's first bash block that holds `marker`, comments dropped."""
    block = next(b for b in _blocks(readme) if marker in b)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def _run(command: str, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The mlp kit, unpacked, with its README's install commands run in it."""
    folder = tmp_path_factory.mktemp("kit")
    with zipfile.ZipFile(api.kit(assignment="mlp", output=folder / "kit.zip")) as z:
        z.extractall(folder / "kit")
    kit = folder / "kit"
    probe = _run(f"{sys.executable} -m pip download --no-deps --dest {folder / 'probe'} pytest", folder, 300)
    if probe.returncode:
        pytest.skip(f"the package index is unreachable from here: {probe.stderr.strip()[-300:]}")
    for command in _commands((kit / "README.md").read_text(), "-m venv"):
        done = _run(command, kit)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    python = kit / ".venv" / "bin" / "python"
    outside = _run(f"{python} -c 'import sys; print(sys.prefix != sys.base_prefix)'", kit)
    assert outside.stdout.strip() == "True"
    return kit


def _check_command(kit: Path, solution: Path, *items: str) -> str:
    (command,) = _commands((kit / "README.md").read_text(), "grader check")
    return command.replace("solution.py", str(solution)) + "".join(f" --item {item}" for item in items)


def test_the_readme_installs_nothing_but_the_dependencies(installed):
    assert not (installed / "pyproject.toml").exists() and not (installed / "setup.py").exists()
    grader = _run(f"{installed / '.venv/bin/python'} -c 'import grader; print(grader.__file__)'", installed)
    assert grader.stdout.strip() == str(installed / "grader" / "__init__.py")


def test_the_readmes_check_passes_the_reference_and_fails_the_template(installed):
    done = _run(_check_command(installed, REFERENCE_MLP, *FAST), installed)
    assert done.returncode == 0 and f"All {len(FAST)} public checks passed" in done.stdout, done.stdout + done.stderr
    done = _run(_check_command(installed, installed / "solution.py", *FAST), installed)
    assert done.returncode == 1 and f"{len(FAST)} of {len(FAST)} public checks failed" in done.stdout, done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_the_readmes_pytest_command_runs_the_checks(installed):
    (command,) = _commands((installed / "README.md").read_text(), "-m pytest")
    (installed / "reference_solution.py").write_text(REFERENCE_MLP.read_text())  # beside the kit's conftest.py
    done = _run(command.replace("solution.py", "reference_solution.py") + " -k 'relu or update' -p no:cacheprovider",
                installed)
    assert done.returncode == 0 and re.search(r"\b[2-9] passed", done.stdout), done.stdout[-1500:]
    done = _run(command + " -k 'relu or update' -p no:cacheprovider", installed)
    assert done.returncode == 1 and re.search(r"\b[2-9] failed", done.stdout), done.stdout[-1500:]


def test_without_unix_modules_the_check_runs_and_says_what_was_not_applied(installed):
    site = Path(subprocess.run([str(installed / ".venv/bin/python"), "-c",
                                "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    shim = site / "sitecustomize.py"  # in the environment: the worker (python -I) imports it too
    shim.write_text(NO_UNIX)
    try:
        done = _run(_check_command(installed, REFERENCE_MLP, "relu", "backward_relu"), installed)
    finally:
        shim.unlink()
    assert done.returncode == 0 and "All 2 public checks passed" in done.stdout, done.stdout + done.stderr
    assert "no resource limits" in done.stdout, done.stdout


def test_a_pytorch_kit_without_torch_says_what_to_install(installed, tmp_path):
    pytest.importorskip("torch")  # the kit is built here, where torch records the reference's answers
    with zipfile.ZipFile(api.kit(assignment="backprop", output=tmp_path / "kit.zip")) as z:
        z.extractall(tmp_path / "kit")
    readme = (tmp_path / "kit" / "README.md").read_text()
    assert "download.pytorch.org/whl/cpu" in readme and "torch" not in (tmp_path / "kit" / "requirements.txt").read_text()
    done = _run(f"{installed / '.venv/bin/python'} -m grader check solution.py --assignment backprop", tmp_path / "kit")
    assert done.returncode != 0 and "needs PyTorch" in done.stdout + done.stderr, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
