"""`grader gradescope` reads <root>/submission and always writes <root>/results/results.json."""
from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from grader import api

from .conftest import REFERENCE_MLP, TEMPLATE_MLP, with_timeouts

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


def _score(doc):
    """The submission's score as Gradescope computes it: the top-level one, else the tests' sum."""
    return doc["score"] if "score" in doc else sum(t["score"] for t in doc["tests"])


def _validate(doc):
    assert isinstance(_score(doc), (int, float))
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
    assert _score(doc) == small.total_points and "execution_time" in doc
    assert "Ada Lovelace" in doc["output"]


def test_gradescope_without_solution_writes_zero_and_says_what_to_upload(tmp_path, small):
    root = _root(tmp_path)
    (root / "submission" / "notes.txt").write_text("hi")
    api.gradescope(root=root, rubric=small)
    doc = json.loads((root / "results" / "results.json").read_text())
    _validate(doc)
    assert _score(doc) == 0 and "no solution.py" in doc["output"] and "notes.txt" in doc["output"]
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


def _gradescope_doc(tmp_path, source, rubric):
    root = _root(tmp_path, source)
    api.gradescope(root=root, rubric=rubric)
    return json.loads((root / "results" / "results.json").read_text())


def test_students_see_no_hidden_item_in_any_field_of_results_json(tmp_path, mlp_rubric):
    # backward_sigmoid is hidden and softmax_stable shown after the due date; a visible item that
    # depends on a hidden one must not name it either.
    rubric = mlp_rubric.select(only=["relu", "softmax_stable", "backward_sigmoid", "update"])
    rubric = replace(rubric, items=tuple(replace(i, depends_on=("backward_sigmoid",)) if i.id == "update" else i
                                         for i in rubric.items))
    doc = _gradescope_doc(tmp_path, TEMPLATE_MLP.read_text(), rubric)
    not_shown = {"softmax_stable", "backward_sigmoid"}
    shown_to_students = [doc["output"]] + [t["output"] + t["name"] for t in doc["tests"] if t["visibility"] == "visible"]
    for text in shown_to_students:
        assert not any(item in text for item in not_shown), text
    assert "\n2 of 2 public checks failed: relu, update (0/7). Further checks are graded too" in doc["output"]
    assert "Further checks are graded too" in doc["output"]
    # Gradescope adds up the tests itself: no total that counts the hidden points.
    assert "score" not in doc and sum(t["score"] for t in doc["tests"]) == 0
    assert not any(item in json.dumps(doc.get("extra_data", {})) for item in not_shown)
    assert {t["name"].split(":")[0]: t["visibility"] for t in doc["tests"]} == {
        "relu": "visible", "softmax_stable": "after_due_date", "backward_sigmoid": "hidden", "update": "visible"}
    update = next(t for t in doc["tests"] if t["name"].startswith("update"))
    assert "a check not shown to students" in update["output"]


LOOP = "        while True:\n            pass\n"


def test_a_submission_that_loops_everywhere_gets_its_result_within_the_budget(tmp_path, mlp_rubric):
    source = REFERENCE_MLP.read_text()
    for name in ("def relu(self", "def sigmoid(self", "def tanh(self", "def softmax(self"):
        head = source.index(name)
        body = source.index("\n", source.index("):", head)) + 1
        source = source[:body] + LOOP + source[body:]
    rubric = with_timeouts(mlp_rubric.select(only=["relu", "sigmoid", "tanh", "softmax"]), 3)
    rubric = replace(rubric, budget_s=8)
    start = time.monotonic()
    doc = _gradescope_doc(tmp_path, source, rubric)
    took = time.monotonic() - start
    assert took < rubric.budget_s + 3, took
    tests = {t["name"].split(":")[0]: t for t in doc["tests"]}
    assert "did not return within the item's time limit" in tests["relu"]["output"]
    last = tests["softmax"]["output"]
    assert last.startswith("Not graded: this submission used up its grading time of 8 s"), last
    assert "relu 3 s" in last
    assert all(t["score"] == 0 for t in doc["tests"])
