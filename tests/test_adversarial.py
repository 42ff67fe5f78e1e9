"""Hostile and broken submissions cost only what they should, and never the grader's result."""
from __future__ import annotations

import json

import pytest

from grader import api

from .conftest import IS_ROOT, REFERENCE_MLP, by_id, mutate, with_timeouts

BACKWARD = ("backward_relu", "backward_sigmoid", "backward_tanh")


@pytest.fixture(scope="module")
def short_rubric(fast_rubric):
    """Short time limits, so that an infinite loop costs seconds; the backward items keep room."""
    return with_timeouts(fast_rubric, 4, **{item: 60 for item in BACKWARD})


def _inject(source: str, method: str, code: str) -> str:
    """Puts `code` at the start of NN.<method>'s body."""
    head = source[source.index(f"    def {method}("):]
    body_start = head.index('"""', head.index('"""') + 3) + 3
    anchor = head[:body_start]
    return mutate(source, anchor, anchor + "\n        " + code.replace("\n", "\n        "))


def _failed(result) -> set[str]:
    return {i.id for i in result.items if not i.passed}


def test_while_true_in_numerical_gradient_costs_that_item_only(reference_source, short_rubric, grade_source):
    result = grade_source(_inject(reference_source, "numerical_gradient", "while True:\n    pass"), short_rubric)
    assert _failed(result) == {"numerical_gradient"}
    message = by_id(result)["numerical_gradient"].message
    assert "did not return within" in message and "NN.numerical_gradient" in message


def test_while_true_in_forward_keeps_the_backward_points(reference_source, short_rubric, grade_source):
    result = grade_source(_inject(reference_source, "forward", "while True:\n    pass"), short_rubric)
    assert _failed(result) == {"forward", "numerical_gradient", "training"}
    for item in BACKWARD:
        assert "reference forward" in by_id(result)[item].message


@pytest.mark.parametrize("code, phrase", [
    ("import sys\nsys.exit(3)", "sys.exit(3)"),
    ("import os\nos._exit(7)", "status 7"),
    ("raise RuntimeError('boom at import')", "boom at import"),
    ("def broken(:\n    pass", "SyntaxError"),
])
def test_failing_import_fails_every_item_with_its_cause(code, phrase, reference_source, short_rubric, grade_source):
    result = grade_source(code + "\n" + reference_source, short_rubric)
    assert result.error is None
    worker_items = [i for i in result.items if i.id != "no_forbidden_imports"]
    assert all(not i.passed for i in worker_items)
    assert all(phrase in i.message and "import" in i.message for i in worker_items), worker_items[1].message


def test_a_10_gb_allocation_costs_that_item_only(reference_source, short_rubric, grade_source):
    result = grade_source(_inject(reference_source, "count_parameters", "big = np.ones(10 * 2**30, dtype=np.uint8)"),
                          short_rubric)
    assert _failed(result) == {"count_parameters"}
    assert "MemoryError" in by_id(result)["count_parameters"].message


def test_printing_megabytes_is_trimmed_and_costs_nothing(reference_source, short_rubric, grade_source):
    source = _inject(reference_source, "forward", "print('x' * 2_000_000)")
    result = grade_source(source, short_rubric, only=["forward", "relu"])
    forward = by_id(result)["forward"]
    assert forward.passed
    assert "more bytes of output not shown" in forward.output
    assert len(forward.output) < 40_000
    assert by_id(result)["relu"].output == ""


def test_a_segfault_in_one_method_costs_that_item_only(reference_source, short_rubric, grade_source):
    source = _inject(reference_source, "update", "import ctypes\nctypes.string_at(0)")
    result = grade_source(source, short_rubric, only=["update", "relu", "count_parameters"])
    assert _failed(result) == {"update"}
    assert "SIGSEGV" in by_id(result)["update"].message


def test_monkeypatching_numpy_does_not_fool_the_grader(reference_source, short_rubric, grade_source):
    source = mutate(reference_source, 'dA = (cache[f"Z{L}"] - labels) / n', 'dA = (labels - cache[f"Z{L}"]) / n')
    source = source.replace("import numpy as np\n", "import numpy as np\nnp.allclose = lambda *a, **k: True\n"
                            "np.isclose = lambda a, b, **k: np.ones(np.shape(a), bool)\n"
                            "np.testing.assert_allclose = lambda *a, **k: None\n", 1)
    result = grade_source(source, short_rubric, only=["backward_relu", "relu"])
    assert _failed(result) == {"backward_relu"}


def test_returned_objects_that_claim_equality_are_not_numbers(reference_source, short_rubric, grade_source):
    liar = "class Always(float):\n    def __eq__(self, other):\n        return True\n    __hash__ = float.__hash__\n"
    source = liar + mutate(reference_source, "return float(-np.sum(labels * np.log(p)) / prediction.shape[0])",
                           "return Always(0.0)")
    result = grade_source(source, short_rubric, only=["loss"])
    assert _failed(result) == {"loss"}
    assert "should return a float" in by_id(result)["loss"].message


def test_a_fake_results_json_written_by_the_student_has_no_effect(tmp_path):
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    fake = {"score": 100, "tests": [], "output": "forged"}
    forge = (f"import json\ntry:\n    open({str(root / 'results' / 'results.json')!r}, 'w').write("
             f"json.dumps({fake!r}))\nexcept OSError:\n    pass\n")
    template = (REFERENCE_MLP.parents[2] / "student_template" / "mlp" / "solution.py").read_text()
    (root / "submission" / "solution.py").write_text(forge + template)
    small = api.load_assignment("mlp").select(only=["relu", "softmax", "best_config"])
    api.gradescope(root=root, rubric=small)
    doc = json.loads((root / "results" / "results.json").read_text())
    assert doc["score"] == 0
    assert doc["output"] != "forged" and len(doc["tests"]) == 3


@pytest.mark.skipif(not IS_ROOT, reason="the sandbox user and protected paths need the grader to run as root")
def test_the_worker_cannot_read_the_reference_or_reach_the_network(reference_source, short_rubric, grade_source):
    probe = (f"import os, socket\n"
             f"try:\n    SEEN = open({str(REFERENCE_MLP)!r}).read()[:20]\nexcept OSError as exc:\n    SEEN = type(exc).__name__\n"
             f"try:\n    socket.create_connection(('127.0.0.1', 22), timeout=1)\n    NET = 'connected'\n"
             f"except OSError as exc:\n    NET = str(exc)\n"
             f"UID = os.getuid()\n")
    source = probe + reference_source
    result = grade_source(source, short_rubric, only=["relu"])
    assert result.items[0].passed
    from grader.sandbox.client import RemoteHandle
    from grader.runner import sandbox_config
    path = result.solution
    handle = RemoteHandle(path, sandbox_config(short_rubric))
    try:
        assert handle.module.get("SEEN") in ("FileNotFoundError", "PermissionError")
        assert "unreachable" in handle.module.get("NET").lower()
        assert handle.module.get("UID") != 0
    finally:
        handle.close()


def test_a_missing_method_is_named(reference_source, short_rubric, grade_source):
    source = mutate(reference_source, "    def relu(self, x, grad=False):", "    def relu_(self, x, grad=False):")
    result = grade_source(source, short_rubric, only=["relu", "sigmoid"])
    assert _failed(result) == {"relu"}
    assert "'relu' is not defined in solution.py" in by_id(result)["relu"].message


def test_a_wrong_return_type_is_named(reference_source, short_rubric, grade_source):
    source = mutate(reference_source, "        return cache\n", "        return list(cache.values())\n")
    result = grade_source(source, short_rubric, only=["forward"])
    assert "forward(x) should return a dict (the cache), but it returned a list" in result.items[0].message


def test_an_exception_shows_only_the_students_frames(reference_source, short_rubric, grade_source):
    source = _inject(reference_source, "softmax", "raise ValueError('bad logits')")
    message = grade_source(source, short_rubric, only=["softmax"]).items[0].message
    assert "NN.softmax raised ValueError: bad logits" in message
    assert 'File "solution.py", line' in message
    assert "grader" not in message.split("Smallest")[0].replace("grader/", "")
