"""The student kit reports every bug of the suite as `grader check` does with the reference at hand:
same verdict, same message, same smallest failing example.

One kit per assignment, built as `grader kit` builds it: its recording follows the assignment's known
bugs (reference/NAME/mutants.yaml, the suite's mutants), whose code runs at build time, in the sandbox,
and is not shipped. The kit's public rubric and recording are then used in-process, the kit's grader
being a copy of this one (tests/test_kit.py runs an unpacked kit)."""
from __future__ import annotations

import zipfile

import pytest

from grader import api
from grader.rubric import load_assignment, load_rubric
from grader.runner import run_rubric
from grader.sandbox.recording import ReplayHandle

from .conftest import ROOT, load_mutants, mutate

SUITES = ("mlp", "convnet")


def _public_cases():
    for assignment in SUITES:
        public = {i.id for i in load_assignment(assignment).items if i.public}
        for name, old, new, items, _ in load_mutants(assignment):
            shown = [i for i in items if i in public]
            if shown:
                yield pytest.param(assignment, name, old, new, shown, id=f"{assignment}: {name}")


CASES = list(_public_cases())


@pytest.fixture(scope="module")
def kits(tmp_path_factory):
    """assignment -> the unpacked kit, built on first use."""
    built = {}

    def kit(assignment):
        if assignment not in built:
            folder = tmp_path_factory.mktemp(assignment)
            with zipfile.ZipFile(api.kit(assignment=assignment, output=folder / "kit.zip")) as z:
                z.extractall(folder / "kit")
            built[assignment] = folder / "kit"
        return built[assignment]

    return kit


def test_every_public_item_of_both_suites_is_covered():
    assert len(CASES) >= 40


@pytest.mark.parametrize("assignment, name, old, new, items", CASES)
def test_the_kit_reports_the_bug_as_grading_does(assignment, name, old, new, items, kits, tmp_path):
    kit = kits(assignment)
    solution = tmp_path / "solution.py"
    solution.write_text(mutate((ROOT / "reference" / assignment / "solution.py").read_text(), old, new))
    rubric = load_rubric(kit / "rubrics" / f"{assignment}.yaml").select(public_only=True, only=items)
    in_kit = run_rubric(rubric, solution, reference=ReplayHandle(kit / "recordings" / f"{assignment}.bin"))
    full = api.check(solution, assignment=assignment, items=items)
    for got, expected in zip(in_kit.items, full.items):
        assert (got.status, got.message) == (expected.status, expected.message), got.id
