"""Shared fixtures: the mlp rubric, the reference source, and grading a solution given as text."""
from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from grader.checks import CHECKS
from grader.packaging.mutants import load_mutants as _load_mutants, mutants_file
from grader.rubric import load_assignment
from grader.runner import run_rubric

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_MLP = ROOT / "reference" / "mlp" / "solution.py"
TEMPLATE_MLP = ROOT / "student_template" / "mlp" / "solution.py"
IS_ROOT = os.geteuid() == 0


@pytest.fixture(scope="session")
def mlp_rubric():
    return load_assignment("mlp")


def without_gate(rubric):
    """Every item but the accuracy gate, which trains on Fashion-MNIST for up to a minute."""
    return rubric.select(only=[i.id for i in rubric.items if not CHECKS[i.check].needs_data])


@pytest.fixture(scope="session")
def fast_rubric(mlp_rubric):
    return without_gate(mlp_rubric)


@pytest.fixture(scope="session")
def reference_source() -> str:
    return REFERENCE_MLP.read_text()


def with_timeouts(rubric, seconds: float, **per_item: float):
    """The rubric with every item's time limit set to `seconds` (or per item)."""
    return replace(rubric, items=tuple(replace(i, timeout_s=per_item.get(i.id, seconds)) for i in rubric.items))


@pytest.fixture
def grade_source(tmp_path):
    """grade_source(text, rubric, only=[...]) -> SubmissionResult, for a solution.py given as text."""
    counter = {"n": 0}

    def grade(source: str, rubric, only: list[str] | None = None, **kwargs):
        counter["n"] += 1
        folder = tmp_path / f"submission{counter['n']}"
        folder.mkdir()
        path = folder / "solution.py"
        path.write_text(source)
        selected = rubric.select(only=only) if only else rubric
        return run_rubric(selected, path, **kwargs)

    return grade


def mutate(source: str, old: str, new: str) -> str:
    """`source` with the single occurrence of `old` replaced; fails loudly if it is not there once."""
    count = source.count(old)
    if count != 1:
        raise AssertionError(f"mutation target found {count} times: {old!r}")
    return source.replace(old, new)


def load_mutants(assignment: str) -> list[tuple]:
    """The assignment's realistic bugs (reference/NAME/mutants.yaml), validated against its reference and
    rubric, as (name, old, new, items, phrase)."""
    rubric = load_assignment(assignment)
    mutants = _load_mutants(mutants_file(rubric.reference), rubric.reference, [i.id for i in rubric.items])
    return [(m.name, m.old, m.new, list(m.items), m.phrase) for m in mutants]


def stable_json(result) -> str:
    """A result as JSON without what may differ between two gradings of one submission: timings and
    the solution's path."""
    doc = result.to_dict()
    for key in ("duration_s", "solution"):
        doc.pop(key)
    for item in doc["items"]:
        item.pop("duration_s")
    return json.dumps(doc, sort_keys=True)


def by_id(result):
    return {item.id: item for item in result.items}
