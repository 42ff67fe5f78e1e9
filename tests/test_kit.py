"""The student kit, unpacked and used as a student would: no reference, no hidden items, and its
`grader check` gives the grader's verdicts on the reference and the template. The Gradescope zip
draws other inputs (its salt), so answers read out of the kit's recording do not carry over."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
import zlib

import pytest

from grader import api
from grader.rubric import load_assignment
from grader.sandbox.recording import MAGIC

from .conftest import REFERENCE_MLP, TEMPLATE_MLP, load_mutants, mutate

FAST = ["relu", "softmax", "forward", "backward_relu", "update", "count_parameters", "best_config"]


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kit")
    archive = api.kit(assignment="mlp", output=folder / "kit.zip")
    with zipfile.ZipFile(archive) as z:
        z.extractall(folder / "unpacked")
    return folder / "unpacked"


def _check(kit, solution, *items):
    args = [sys.executable, "-m", "grader", "check", str(solution), "--assignment", "mlp"]
    for item in items:
        args += ["--item", item]
    proc = subprocess.run(args, cwd=kit, capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def test_the_kit_holds_no_reference_and_no_hidden_item(kit):
    rubric = load_assignment("mlp")
    hidden = [i.id for i in rubric.items if not i.public]
    reference = REFERENCE_MLP.read_text()
    files = [p for p in kit.rglob("*") if p.is_file()]
    assert {"solution.py", "README.md", "requirements.txt", "conftest.py", "rubrics/mlp.yaml", "recordings/mlp.bin"} <= {
        str(p.relative_to(kit)) for p in files}
    assert not (kit / "reference").exists() and not (kit / "tests").exists()
    recording = zlib.decompress((kit / "recordings" / "mlp.bin").read_bytes()[len(MAGIC):]).decode()
    texts = {str(p.relative_to(kit)): p.read_text(errors="replace") for p in files if p.suffix != ".bin"}
    texts["recording"] = recording
    for name, text in texts.items():
        assert "BEST_CONFIG = dict(hidden_dims=(512, 256)" not in text, name  # the reference's own line
        assert reference[:300] not in text, name
        for item in hidden:
            assert item not in text, (name, item)
    assert (kit / "solution.py").read_text() == TEMPLATE_MLP.read_text()
    assert json.loads(recording)  # answers, keyed by request: data, not code
    # The known bugs the recording followed: neither their file, nor their code, nor (outside the grader's
    # own sources) their names.
    assert not [p for p in files if p.name == "mutants.yaml"]
    template = TEMPLATE_MLP.read_text()
    for name, old, new, _, _ in load_mutants("mlp"):
        for code in (old, new):
            whole = re.compile(rf"(?<!\w){re.escape(code)}(?!\w)")  # not `return s` in `return self`
            leaked = [f for f, text in texts.items() if not whole.search(template) and whole.search(text)]
            assert not leaked, (name, code, leaked)
        for shown in ("README.md", "rubrics/mlp.yaml", "recording"):
            assert name not in texts[shown], (shown, name)


def test_the_kits_rubric_draws_the_kits_inputs_wherever_it_is_loaded(kit):
    from grader.rubric import load_rubric
    rubric = load_rubric(kit / "rubrics" / "mlp.yaml")
    assert rubric.reference.is_file()  # here, beside the project, a salt could be derived: it must not be
    assert rubric.salt == 0


def test_the_kits_check_passes_the_reference_and_fails_the_template(kit):
    code, out = _check(kit, REFERENCE_MLP, *FAST)
    assert code == 0 and f"All {len(FAST)} public checks passed" in out, out
    code, out = _check(kit, TEMPLATE_MLP, *FAST)
    assert code == 1 and f"{len(FAST)} of {len(FAST)} public checks failed" in out, out


def test_the_kit_explains_a_bug_as_the_grader_does(kit, tmp_path):
    solution = tmp_path / "solution.py"
    solution.write_text(mutate(REFERENCE_MLP.read_text(), "return (x > 0).astype(float)",
                               "return (x < 0).astype(float)"))
    _, in_kit = _check(kit, solution, "relu", "backward_relu")
    full = {i.id: i.message for i in api.check(solution, assignment="mlp", items=["relu", "backward_relu"]).items}
    for item in ("relu", "backward_relu"):
        assert full[item].splitlines()[0] in in_kit


def test_the_gradescope_zip_draws_other_inputs_than_the_kit(tmp_path):
    with zipfile.ZipFile(api.autograder(assignment="mlp", output=tmp_path / "ag.zip")) as z:
        z.extractall(tmp_path / "ag")
    from grader.rubric import load_rubric
    salted = load_rubric(tmp_path / "ag" / "rubrics" / "mlp.yaml")
    assert salted.salt != 0 and len(salted.items) == len(load_assignment("mlp").items)
    # The reference still scores full marks on the salted inputs.
    from grader.runner import run_rubric
    only = [i.id for i in salted.items if i.id in FAST]
    result = run_rubric(salted.select(only=only), REFERENCE_MLP)
    assert result.score == result.max_score, [i.message for i in result.items if not i.passed]


def test_backprop_kit_needs_no_recorded_answers_and_works(tmp_path):
    pytest.importorskip("torch")
    with zipfile.ZipFile(api.kit(assignment="backprop", output=tmp_path / "kit.zip")) as z:
        z.extractall(tmp_path / "kit")
    proc = subprocess.run([sys.executable, "-m", "grader", "check", "solution.py", "--assignment", "backprop"],
                          cwd=tmp_path / "kit", capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and "7 of 7 public checks failed" in proc.stdout, proc.stdout[-2000:]
    assert "circles_accuracy" not in (tmp_path / "kit" / "rubrics" / "backprop.yaml").read_text()
    # Its checks compute their expectations in NumPy: nothing of the reference is recorded.
    recording = (tmp_path / "kit" / "recordings" / "backprop.bin").read_bytes()
    assert json.loads(zlib.decompress(recording[len(MAGIC):])) == {}


def test_the_kit_is_byte_for_byte_reproducible_whatever_ran_before(kit, tmp_path):
    api.check(REFERENCE_MLP, assignment="mlp", items=["forward", "backward_relu"])  # another process history
    again = api.kit(assignment="mlp", output=tmp_path / "kit.zip")
    assert again.read_bytes() == (kit.parent / "kit.zip").read_bytes()


def test_the_kit_refuses_a_known_bug_that_does_not_apply_to_the_reference(tmp_path):
    from dataclasses import replace

    from grader.packaging.mutants import MutantsError
    reference = tmp_path / "solution.py"
    reference.write_text(REFERENCE_MLP.read_text())
    (tmp_path / "mutants.yaml").write_text("- {name: stale, old: 'no such line', new: x, items: [relu], phrase: p}\n")
    with pytest.raises(MutantsError, match=r"mutants.yaml: mutant 'stale', field 'old': is found 0 times"):
        api.kit(rubric=replace(load_assignment("mlp"), reference=reference), output=tmp_path / "kit.zip")
    assert not (tmp_path / "kit.zip").exists()
