"""The grader's own Python environment stays importable for solution.py wherever it lives: in /tmp
(which the sandbox replaces by a private one) or inside a folder the sandbox hides (the project),
while nothing else of that folder becomes visible."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest
import yaml

from .conftest import IS_ROOT, REFERENCE_MLP, ROOT, by_id

ROOT_ONLY = pytest.mark.skipif(not IS_ROOT, reason="the sandbox's namespaces need root")

GRADE = """
import json, sys
from grader.rubric import load_rubric
from grader.runner import run_rubric
result = run_rubric(load_rubric(sys.argv[1]), sys.argv[2], protected=json.loads(sys.argv[3]))
print(json.dumps({i.id: [i.status, i.message] for i in result.items}))
"""

SPY = """import only_here
import os as _os
_SECRET = _os.path.exists({secret!r})
"""


@pytest.mark.root
@ROOT_ONLY
@pytest.mark.parametrize("where", ["tmp", "protected"])
def test_packages_of_an_environment_in_a_hidden_folder_stay_importable(where, tmp_path):
    parent = Path(tempfile.mkdtemp(prefix="grader-env-", dir="/tmp" if where == "tmp" else "/var/lib"))
    try:
        venv = parent / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
        site = venv / Path(sysconfig.get_path("purelib")).relative_to(sysconfig.get_path("data"))
        (site / "only_here").mkdir(parents=True)
        (site / "only_here" / "__init__.py").write_text("VALUE = 2\n")
        secret = parent / "secret.txt"
        secret.write_text("the reference")
        raw = yaml.safe_load((ROOT / "rubrics" / "mlp.yaml").read_text())
        raw["items"] = [i for i in raw["items"] if i["id"] in ("relu", "count_parameters")]
        raw.pop("data")
        raw.pop("total_points")
        raw["sandbox"]["packages"] = ["only_here"]
        rubric = tmp_path / "mlp.yaml"
        rubric.write_text(yaml.safe_dump(raw))
        solution = tmp_path / "solution.py"
        solution.write_text(SPY.format(secret=str(secret)) + REFERENCE_MLP.read_text().replace(
            "        return np.maximum(x, 0)",
            "        assert not _SECRET, 'the hidden folder is visible'\n"
            "        return np.maximum(x, 0) * (only_here.VALUE // 2)"))
        protected = [str(parent)] if where == "protected" else []
        proc = subprocess.run([str(venv / "bin" / "python"), "-c", GRADE, str(rubric), str(solution),
                               json.dumps(protected)], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        verdicts = json.loads(proc.stdout.splitlines()[-1])
        assert all(status == "passed" for status, _ in verdicts.values()), verdicts
    finally:
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def in_process(monkeypatch):
    """As on native Windows, where the worker cannot run."""
    monkeypatch.setenv("GRADER_IN_PROCESS", "1")


FAST = ["no_forbidden_imports", "relu", "forward", "backward_relu", "update", "count_parameters"]


def test_without_the_worker_the_reference_keeps_every_point_and_is_told_why(in_process, grade_source, mlp_rubric):
    source = REFERENCE_MLP.read_text().replace('        """x: any shape -> max(x, 0), or its derivative 1[x > 0] when grad=True."""',
                                               '        """x: any shape."""\n        print("relu here")', 1)
    result = grade_source(source, mlp_rubric, only=FAST)
    assert [i.id for i in result.items if not i.passed] == [], [i.message for i in result.items]
    assert any("grader's own process" in note for note in result.notes)
    assert "relu here" in by_id(result)["relu"].output


def test_without_the_worker_bugs_loops_and_import_errors_cost_what_they_cost_in_it(in_process, grade_source,
                                                                                     mlp_rubric):
    from dataclasses import replace

    rubric = replace(mlp_rubric, items=tuple(replace(i, timeout_s=3) for i in mlp_rubric.items))
    looping = REFERENCE_MLP.read_text().replace("        return np.maximum(x, 0)",
                                                "        while True:\n            pass", 1)
    result = grade_source("import torch\n" + looping, rubric, only=FAST)
    assert {i.id for i in result.items if not i.passed} == {"no_forbidden_imports", "relu", "forward", "backward_relu"}
    assert "did not return within the item's time limit of 3 s" in by_id(result)["relu"].message
    assert "needs item(s) no_forbidden_imports" in by_id(result)["backward_relu"].message
    broken = grade_source("def broken(:\n    pass\n" + REFERENCE_MLP.read_text(), mlp_rubric, only=["relu", "forward"])
    assert all("could not be imported: SyntaxError" in i.message for i in broken.items), broken.items[0].message
