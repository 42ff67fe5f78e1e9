"""Every realistic bug loses the item that names it, and the message points at the cause.

Each mutant is the reference with one edit (reference/mlp/mutants.yaml). The item(s) it must lose
are graded (not the whole rubric, to keep the suite fast); `phrase` must appear in the feedback.
"""
from __future__ import annotations

import pytest

from grader.packaging.mutants import MutantsError, load_mutants as load_file

from .conftest import by_id, load_mutants, mutate

MUTANTS = load_mutants("mlp")  # (name, old, new, items that must fail, phrase in the first item's message)


@pytest.mark.parametrize("name, old, new, items, phrase", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_mutant_loses_the_item_that_names_the_bug(name, old, new, items, phrase, reference_source,
                                                  fast_rubric, grade_source):
    result = grade_source(mutate(reference_source, old, new), fast_rubric, only=items)
    results = by_id(result)
    for item in items:
        assert results[item].status == "failed", f"{name}: {item} passed: {results[item].message}"
        assert results[item].points == 0
    assert phrase in results[items[0]].message, results[items[0]].message


def test_at_least_fifteen_mutants():
    assert len(MUTANTS) >= 15


def test_forbidden_import_costs_the_items_that_depend_on_it(reference_source, fast_rubric, grade_source):
    source = mutate(reference_source, "import numpy as np\n", "import numpy as np\ntry:\n    import torch\nexcept ImportError:\n    pass\n")
    results = by_id(grade_source(source, fast_rubric, only=["no_forbidden_imports", "backward_relu", "relu"]))
    assert results["no_forbidden_imports"].status == "failed"
    assert "torch" in results["no_forbidden_imports"].message
    assert results["backward_relu"].status == "failed" and "needs item(s) no_forbidden_imports" in results["backward_relu"].message
    assert results["relu"].passed


@pytest.mark.parametrize("entry, error", [
    ("- {name: a bug, old: 'z = x', new: 'z = 2 * x', items: [softmax]}", "mutant 'a bug', field 'phrase': is missing"),
    ("- {name: a bug, old: 'z = y', new: 'z = 2 * y', items: [softmax], phrase: p}",
     "mutant 'a bug', field 'old': is found 0 times in"),
    ("- {name: a bug, old: 'return grad', new: '', items: [numerical_gradient], phrase: p}",
     "field 'old': is found 2 times in"),
    ("- {name: a bug, old: 'z = x - np.max', new: 'z = x', items: [sofmax], phrase: p}",
     "field 'items': names unknown item(s) sofmax"),
    ("- {name: a bug, old: 'z = x - np.max', new: 'z = x', items: softmax, phrase: p}",
     "field 'items': must be a non-empty list"),
    ("- {old: 'z = x - np.max', new: 'z = x', items: [softmax], phrase: p, cause: q}", "mutant '#1', field 'name'"),
    ("- {name: a bug, old: 'z = x - np.max', new: 'z = x', items: [softmax], phrase: p, cause: q}",
     "mutant 'a bug': unknown field(s) 'cause'"),
    ("name: a bug", "must be a list of mutants"),
], ids=["missing field", "old not found", "old found twice", "unknown item", "items not a list", "no name",
        "unknown field", "not a list"])
def test_a_bad_mutants_file_names_the_file_the_entry_and_the_field(entry, error, tmp_path, mlp_rubric):
    path = tmp_path / "mutants.yaml"
    path.write_text(entry + "\n")
    with pytest.raises(MutantsError) as raised:
        load_file(path, mlp_rubric.reference, [i.id for i in mlp_rubric.items])
    assert str(raised.value).startswith(str(path)) and error in str(raised.value), str(raised.value)
