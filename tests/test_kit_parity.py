"""The student kit reports every bug of the suite as `grader check` does with the reference at hand:
same verdict, same message, same smallest failing example.

One kit per assignment, its recording made with the suite's mutants as variants (their code runs at
build time, in the sandbox, and is not shipped); the kit's public rubric and recording are then used
in-process, the kit's grader being a copy of this one (tests/test_kit.py runs an unpacked kit)."""
from __future__ import annotations

import zipfile

import pytest

from grader import api
from grader.packaging.kit import Variant, build_kit
from grader.rubric import load_assignment, load_rubric
from grader.runner import run_rubric
from grader.sandbox.recording import ReplayHandle

from .conftest import ROOT, mutate
from .test_convnet import MUTANTS as CONVNET_MUTANTS
from .test_mutants import MUTANTS as MLP_MUTANTS

SUITES = {"mlp": MLP_MUTANTS, "convnet": CONVNET_MUTANTS}


def _public_cases():
    for assignment, mutants in SUITES.items():
        public = {i.id for i in load_assignment(assignment).items if i.public}
        for name, old, new, items, _ in mutants:
            shown = [i for i in items if i in public]
            if shown:
                yield pytest.param(assignment, name, old, new, shown, id=f"{assignment}: {name}")


CASES = list(_public_cases())


@pytest.fixture(scope="module")
def kits(tmp_path_factory):
    """assignment -> (unpacked kit, {mutant name: its solution.py}), built on first use."""
    built = {}

    def kit(assignment):
        if assignment not in built:
            folder = tmp_path_factory.mktemp(assignment)
            reference = (ROOT / "reference" / assignment / "solution.py").read_text()
            solutions, variants = {}, []
            for case in CASES:
                case_assignment, name, old, new, items = case.values
                if case_assignment == assignment:
                    solutions[name] = folder / f"mutant{len(solutions)}" / "solution.py"
                    solutions[name].parent.mkdir()
                    solutions[name].write_text(mutate(reference, old, new))
                    variants.append(Variant(solutions[name], tuple(items)))
            archive = build_kit(load_assignment(assignment), folder / "kit.zip", variants)
            with zipfile.ZipFile(archive) as z:
                z.extractall(folder / "kit")
            built[assignment] = folder / "kit", solutions
        return built[assignment]

    return kit


def test_every_public_item_of_both_suites_is_covered():
    assert len(CASES) >= 40


@pytest.mark.parametrize("assignment, name, old, new, items", CASES)
def test_the_kit_reports_the_bug_as_grading_does(assignment, name, old, new, items, kits):
    kit, solutions = kits(assignment)
    rubric = load_rubric(kit / "rubrics" / f"{assignment}.yaml").select(public_only=True, only=items)
    in_kit = run_rubric(rubric, solutions[name], reference=ReplayHandle(kit / "recordings" / f"{assignment}.bin"))
    full = api.check(solutions[name], assignment=assignment, items=items)
    for got, expected in zip(in_kit.items, full.items):
        assert (got.status, got.message) == (expected.status, expected.message), got.id
