"""The PyTorch assignments' promises (`backprop`, `torch_cnn`): the references score 100 on the CPU,
deterministically; the templates score 0 with a message on every item; every realistic bug loses
the item that names it; correct variants (nn.Sequential or attributes, F.relu or nn.ReLU, other
names) keep every point. Grading runs torch in the worker only; the grader's process never imports it."""
from __future__ import annotations

import subprocess
import sys

import pytest

from grader import api
from grader.rubric import load_assignment

from .conftest import IS_ROOT, ROOT, by_id, load_mutants, mutate, stable_json, without_gate

torch = pytest.importorskip("torch")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run on the device machine)")

REFERENCE = {a: ROOT / "reference" / a / "solution.py" for a in ("backprop", "torch_cnn")}
TEMPLATE = {a: ROOT / "student_template" / a / "solution.py" for a in ("backprop", "torch_cnn")}


@pytest.fixture(scope="module")
def rubrics():
    return {a: load_assignment(a) for a in ("backprop", "torch_cnn")}




def test_backprop_reference_scores_full_marks_deterministically(rubrics):
    first = api.grade(REFERENCE["backprop"], rubric=rubrics["backprop"])
    assert {i.id: i.message for i in first.items if not i.passed} == {}
    assert first.score == 100
    assert by_id(first)["circles_accuracy"].details["accuracy"] >= 0.95
    second = api.grade(REFERENCE["backprop"], rubric=rubrics["backprop"])
    assert stable_json(second) == stable_json(first)


@pytest.mark.slow
def test_torch_cnn_reference_scores_full_marks_deterministically_on_the_cpu(rubrics):
    first = api.grade(REFERENCE["torch_cnn"], rubric=rubrics["torch_cnn"])
    assert {i.id: i.message for i in first.items if not i.passed} == {}
    assert first.score == 100
    gate = by_id(first)["accuracy"]
    assert gate.details["device"] == "cpu" and gate.details["accuracy"] >= 0.84
    again = by_id(api.grade(REFERENCE["torch_cnn"], rubric=rubrics["torch_cnn"].select(only=["make_optimizer",
                                                                                              "accuracy"])))
    assert again["accuracy"].details == gate.details  # the same accuracy to the last digit
    assert again["accuracy"].message == gate.message


@pytest.mark.parametrize("assignment", ["backprop", "torch_cnn"])
def test_template_scores_zero_with_a_message_on_every_item(assignment, rubrics):
    result = api.grade(TEMPLATE[assignment], rubric=rubrics[assignment])
    assert result.score == 0 and result.error is None
    for item in result.items:
        assert item.message.strip()
        assert item.status == "failed", item.id


def test_grading_a_torch_assignment_never_imports_torch_in_the_grader(tmp_path):
    code = ("import sys; from grader import api; r = api.grade(sys.argv[1], assignment='backprop', "
            "items=['forward', 'sgd']); assert r.score == 25, r; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code, str(REFERENCE["backprop"])], check=True, cwd=ROOT, timeout=300)


BACKPROP_MUTANTS = load_mutants("backprop")  # reference/backprop/mutants.yaml


@pytest.mark.parametrize("name, old, new, items, phrase", BACKPROP_MUTANTS, ids=[m[0] for m in BACKPROP_MUTANTS])
def test_backprop_mutant_loses_the_item_that_names_the_bug(name, old, new, items, phrase, rubrics, grade_source):
    source = mutate(REFERENCE["backprop"].read_text(), old, new)
    result = by_id(grade_source(source, rubrics["backprop"], only=items))
    for item in items:
        assert result[item].status == "failed", f"{name}: {item} passed: {result[item].message}"
    assert phrase in result[items[0]].message, result[items[0]].message


TORCH_CNN_MUTANTS = load_mutants("torch_cnn")  # reference/torch_cnn/mutants.yaml


@pytest.mark.parametrize("name, old, new, items, phrase", TORCH_CNN_MUTANTS, ids=[m[0] for m in TORCH_CNN_MUTANTS])
def test_torch_cnn_mutant_loses_the_item_that_names_the_bug(name, old, new, items, phrase, rubrics, grade_source):
    source = mutate(REFERENCE["torch_cnn"].read_text(), old, new)
    result = by_id(grade_source(source, rubrics["torch_cnn"], only=items))  # the gate only where named
    for item in items:
        assert result[item].status == "failed", f"{name}: {item} passed: {result[item].message}"
    assert phrase in result[items[0]].message, result[items[0]].message


def test_at_least_ten_mutants_per_assignment():
    assert len(BACKPROP_MUTANTS) >= 10 and len(TORCH_CNN_MUTANTS) >= 10


VARIANTS = [("torch_cnn", "torch_cnn_functional.py", True), ("torch_cnn", "torch_cnn_sequential.py", False),
            ("backprop", "backprop_einsum.py", True)]


@pytest.mark.slow
@pytest.mark.parametrize("assignment, variant, with_gate", VARIANTS, ids=[v[1] for v in VARIANTS])
def test_correct_variant_keeps_every_point(assignment, variant, with_gate, rubrics, grade_source):
    source = (ROOT / "tests" / "variants" / variant).read_text()
    rubric = rubrics[assignment] if with_gate else without_gate(rubrics[assignment])
    result = grade_source(source, rubric)
    assert {i.id: i.message for i in result.items if not i.passed} == {}
    assert result.score == rubric.total_points


@needs_cuda
@pytest.mark.slow
def test_torch_cnn_trains_on_the_gpu_deterministically_and_says_so(rubrics):
    rubric = rubrics["torch_cnn"].select(only=["shapes", "make_optimizer", "accuracy"])
    first = api.grade(REFERENCE["torch_cnn"], rubric=rubric)
    assert first.score == first.max_score, [i.message for i in first.items if not i.passed]
    gate, shapes = by_id(first)["accuracy"], by_id(first)["shapes"]
    assert gate.details["device"].startswith("cuda") and "on cuda" in gate.message
    assert shapes.details["device"].startswith("cuda")
    second = api.grade(REFERENCE["torch_cnn"], rubric=rubric)
    assert by_id(second)["accuracy"].details["accuracy"] == gate.details["accuracy"]


def test_without_torch_installed_every_item_says_how_to_install_it(rubrics, monkeypatch):
    import importlib.util

    from grader import runner
    real = importlib.util.find_spec
    monkeypatch.setattr(runner.importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    result = runner.run_rubric(rubrics["backprop"], REFERENCE["backprop"])
    assert result.score == 0 and "pip install torch" in result.error
    assert all(i.status == "error" and "needs PyTorch" in i.message for i in result.items)


@pytest.mark.skipif(not IS_ROOT, reason="the reference is hidden from the worker by the sandbox (as root)")
def test_a_torch_submission_cannot_read_the_reference(rubrics, grade_source):
    """torch changes nothing in the confinement: the reference is out of reach of the worker."""
    spy = '''

def _peek():
    try:
        return open(%r).read()[:20]
    except OSError as exc:
        return type(exc).__name__


_PEEK = _peek()


def loss_accuracy(yhat, Y):
    if not _PEEK.endswith("Error"):
        raise RuntimeError("read the reference: " + _PEEK)
    return _loss_accuracy(yhat, Y)
''' % str(REFERENCE["backprop"])
    source = REFERENCE["backprop"].read_text().replace("def loss_accuracy(", "def _loss_accuracy(") + spy
    result = by_id(grade_source(source, rubrics["backprop"], only=["loss_accuracy"]))
    assert result["loss_accuracy"].passed, result["loss_accuracy"].message
