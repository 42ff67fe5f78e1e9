"""`grader gradescope` reads <root>/submission and always writes <root>/results/results.json."""
from __future__ import annotations

import json

import pytest

from grader import api

from .conftest import REFERENCE_MLP, TEMPLATE_MLP

REQUIRED_TEST_KEYS = {"name", "score", "max_score", "status", "visibility", "output"}


def _root(tmp_path, solution_text=None, nested=False):
    root = tmp_path / "autograder"
    sub = root / "submission" / ("folder" if nested else "")
    sub.mkdir(parents=True)
    (root / "results").mkdir()
    (root / "source").mkdir()
    if solution_text is not None:
        (sub / "solution.py").write_text(solution_text)
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"name": "Ada Lovelace"}]}))
    return root


def _validate(doc):
    assert isinstance(doc["score"], (int, float))
    assert isinstance(doc["output"], str) and doc["stdout_visibility"] == "hidden"
    for test in doc["tests"]:
        assert REQUIRED_TEST_KEYS <= set(test)
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")


@pytest.fixture
def small(mlp_rubric):
    return mlp_rubric.select(only=["relu", "forward", "softmax_stable"])


def test_gradescope_grades_a_nested_submission_and_shows_the_name(tmp_path, small, monkeypatch):
    root = _root(tmp_path, REFERENCE_MLP.read_text(), nested=True)
    monkeypatch.setenv("GRADER_GRADESCOPE_ROOT", str(root))
    api.gradescope(rubric=small)
    doc = json.loads((root / "results" / "results.json").read_text())
    _validate(doc)
    assert doc["score"] == small.total_points and "execution_time" in doc
    assert "Ada Lovelace" in doc["output"]


def test_gradescope_without_solution_writes_zero_and_says_what_to_upload(tmp_path, small):
    root = _root(tmp_path)
    (root / "submission" / "notes.txt").write_text("hi")
    api.gradescope(root=root, rubric=small)
    doc = json.loads((root / "results" / "results.json").read_text())
    _validate(doc)
    assert doc["score"] == 0 and "no solution.py" in doc["output"] and "notes.txt" in doc["output"]
    assert len(doc["tests"]) == 3


def test_gradescope_writes_a_result_even_when_the_grader_fails(tmp_path, monkeypatch, small):
    root = _root(tmp_path, TEMPLATE_MLP.read_text())

    def explode(*args, **kwargs):
        raise RuntimeError("grader bug")
    monkeypatch.setattr("grader.api.run_rubric", explode)
    with pytest.raises(RuntimeError):
        api.gradescope(root=root, rubric=small)
    doc = json.loads((root / "results" / "results.json").read_text())
    assert doc["score"] == 0 and "grader bug" in doc["output"]


def test_gradescope_with_an_invalid_rubric_still_writes_a_result(tmp_path):
    root = _root(tmp_path, TEMPLATE_MLP.read_text())
    bad = tmp_path / "bad.yaml"
    bad.write_text("assignment: x\n")
    with pytest.raises(Exception):
        api.gradescope(root=root, rubric=bad)
    doc = json.loads((root / "results" / "results.json").read_text())
    assert doc["score"] == 0 and "bad.yaml" in doc["output"]
