"""The pytest plugin, run the way course staff and students run it: `pytest --solution PATH
--assignment NAME` in a fresh process. One test per rubric item, the verdicts and messages of
`grader check`, and -k, -x, --lf behaving as pytest users expect."""
from __future__ import annotations

import subprocess
import sys

from grader import api

from .conftest import REFERENCE_MLP, TEMPLATE_MLP, mutate

FAST = "not accuracy and not training and not backward"  # keep each run to seconds


def _pytest(tmp_path, solution, *args):
    proc = subprocess.run([sys.executable, "-m", "pytest", "--solution", str(solution), "--assignment", "mlp",
                           "-p", "no:randomly", "-o", f"cache_dir={tmp_path / 'cache'}", "-q", "-rA", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def test_the_reference_passes_one_test_per_public_item(tmp_path):
    code, out = _pytest(tmp_path, REFERENCE_MLP, "-k", FAST)
    public = [i.id for i in api._rubric("mlp", None).select(public_only=True).items]
    expected = [i for i in public if not any(w in i for w in ("accuracy", "training", "backward"))]
    assert code == 0, out
    assert f"{len(expected)} passed" in out
    assert all(f"solution.py::{i}" in out for i in expected)
    assert "backward_sigmoid" not in out  # a hidden item: only with --hidden


def test_a_failing_item_fails_its_test_with_the_message_grader_check_gives(tmp_path):
    code, out = _pytest(tmp_path, TEMPLATE_MLP, "-k", "init_zero or init_normal")
    assert code == 1 and "2 failed" in out
    check = {i.id: i.message for i in api.check(TEMPLATE_MLP, assignment="mlp", items=["init_zero"]).items}
    assert check["init_zero"].splitlines()[0] in out


def test_x_stops_at_the_first_failure_and_lf_reruns_only_the_failures(tmp_path):
    solution = tmp_path / "solution.py"
    solution.write_text(mutate(REFERENCE_MLP.read_text(), "return (x > 0).astype(float)",
                               "return (x < 0).astype(float)"))
    code, out = _pytest(tmp_path, solution, "-k", "relu or sigmoid or tanh")  # relu, backward_relu fail
    assert code == 1 and "2 failed, 2 passed" in out and "FAILED solution.py::relu" in out
    code, out = _pytest(tmp_path, solution, "-k", "relu or sigmoid or tanh", "--lf")
    last_line = out.strip().splitlines()[-1]
    assert "2 failed" in last_line and "passed" not in last_line
    code, out = _pytest(tmp_path, TEMPLATE_MLP, "-x", "-k", FAST)
    assert "1 failed" in out and "stopping after 1 failures" in out


def test_hidden_items_run_only_with_hidden(tmp_path):
    _, public = _pytest(tmp_path, REFERENCE_MLP, "--collect-only")
    _, everything = _pytest(tmp_path, REFERENCE_MLP, "--collect-only", "--hidden")
    assert "backward_sigmoid" not in public and "backward_sigmoid" in everything


def test_without_solution_the_plugin_changes_nothing(tmp_path):
    (tmp_path / "test_plain.py").write_text("def test_one():\n    assert True\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", str(tmp_path / "test_plain.py")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "1 passed" in proc.stdout
