"""The Gradescope autograder zip, met the way Gradescope meets it: unpacked into a root laid out like
/autograder (source/, submission/, results/), `run_autograder` run for a submission, and the
results.json it leaves checked against Gradescope's format."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

from grader import api
from grader.rubric import load_assignment

from .conftest import IS_ROOT, ROOT

pytest.importorskip("torch")  # the backprop assignment: fast, and needs no data set


def _build(tmp_path, assignment="backprop"):
    return api.autograder(assignment=assignment, output=tmp_path / f"{assignment}.zip")


def test_the_zip_holds_the_grader_rubric_reference_and_scripts_and_nothing_else(tmp_path):
    with zipfile.ZipFile(_build(tmp_path)) as archive:
        names = archive.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        setup = archive.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "rubrics/backprop.yaml", "reference/backprop/solution.py",
            "grader/cli.py", "grader/sandbox/worker.py"} <= set(names)
    others = [n for n in names if not n.startswith("grader/") and n not in
              ("setup.sh", "run_autograder", "rubrics/backprop.yaml", "reference/backprop/solution.py")]
    assert others == []
    assert all(n.endswith(".py") for n in names if n.startswith("grader/"))
    assert not any("__pycache__" in n or "student_template" in n or n.startswith("tests/") for n in names)
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert "download.pytorch.org/whl/cpu" in setup and "hypothesis==6.155.2" in setup
    assert "fashion-mnist" not in setup  # backprop needs no data set


def test_the_zip_is_reproducible_and_installs_data_only_where_the_rubric_needs_it(tmp_path):
    first = _build(tmp_path).read_bytes()
    assert _build(tmp_path).read_bytes() == first
    with zipfile.ZipFile(api.autograder(assignment="mlp", output=tmp_path / "mlp.zip")) as archive:
        setup = archive.read("setup.sh").decode()
    assert "dataset-fashion-mnist" in setup and "torch" not in setup


SPY = '''

import os as _os
_SOURCE = _os.environ.get("SPY_SOURCE", "")


def _try_read():
    try:
        return open(_os.path.join(_SOURCE, "reference", "backprop", "solution.py")).read()[:10]
    except OSError as exc:
        return type(exc).__name__


_READ = _try_read()
try:  # forge a perfect result
    with open(_os.path.join(_SOURCE, "..", "results", "results.json"), "w") as _f:
        _f.write('{"score": 1000, "tests": []}')
except OSError:
    pass


def loss_accuracy(yhat, Y):
    if not _READ.endswith("Error"):
        raise RuntimeError("the reference was readable")
    return _loss_accuracy(yhat, Y)
'''


def _check_results_schema(doc: dict, rubric) -> None:
    assert set(doc) >= {"score", "execution_time", "output", "tests", "stdout_visibility"}
    assert isinstance(doc["score"], (int, float)) and isinstance(doc["execution_time"], (int, float))
    assert isinstance(doc["output"], str) and doc["stdout_visibility"] == "hidden"
    assert len(doc["tests"]) == len(rubric.items)
    for test, item in zip(doc["tests"], rubric.items):
        assert {"name", "score", "max_score", "status", "visibility", "output"} <= set(test)
        assert test["name"].startswith(item.id) and test["max_score"] == item.points
        assert test["status"] in ("passed", "failed") and test["visibility"] == item.visibility
        assert isinstance(test["output"], str) and 0 <= test["score"] <= test["max_score"]
    assert doc["score"] == pytest.approx(sum(t["score"] for t in doc["tests"]))


def test_run_autograder_grades_a_submission_as_gradescope_would(tmp_path):
    root = tmp_path / "autograder"
    with zipfile.ZipFile(_build(tmp_path)) as archive:
        archive.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):  # zipfile does not restore permissions
        (root / "source" / name).chmod(0o755)
    (root / "submission").mkdir()
    (root / "results").mkdir()
    reference = (ROOT / "reference" / "backprop" / "solution.py").read_text()
    spy = reference.replace("def loss_accuracy(", "def _loss_accuracy(") + SPY
    (root / "submission" / "solution.py").write_text(spy)
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"name": "Ada Lovelace"}]}))
    env = {**os.environ, "GRADER_GRADESCOPE_ROOT": str(root), "GRADER_PYTHON": sys.executable,
           "SPY_SOURCE": str(root / "source")}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([str(root / "source" / "run_autograder")], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((root / "results" / "results.json").read_text())
    rubric = load_assignment("backprop")
    _check_results_schema(doc, rubric)
    failed = {t["name"]: t["output"] for t in doc["tests"] if t["status"] != "passed"}
    if IS_ROOT:  # the sandbox user could neither read the reference nor forge the results
        assert failed == {} and doc["score"] == 100
        assert oct((root / "source").stat().st_mode & 0o077) == "0o0"
    assert "Ada Lovelace" in doc["output"]
