"""A rubric that does not validate is rejected before anything runs, naming the file, item and field."""
from __future__ import annotations

import textwrap

import pytest

from grader.rubric import RubricError, load_rubric, rubric_path

GOOD = """
assignment: demo
title: Demo
reference: reference/mlp/solution.py
items:
  - id: relu
    name: relu
    points: 3
    check: method_values
    params: {method: relu, inputs: elementwise}
"""


def write(tmp_path, text):
    path = tmp_path / "demo.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_the_shipped_mlp_rubric_validates_and_totals_100():
    rubric = load_rubric(rubric_path("mlp"))
    assert rubric.total_points == 100
    assert {i.visibility for i in rubric.items} >= {"visible", "hidden", "after_due_date"}
    assert all(i.timeout_s > 0 for i in rubric.items)


def test_a_minimal_rubric_validates(tmp_path):
    rubric = load_rubric(write(tmp_path, GOOD))
    assert rubric.items[0].params["examples"] == 25


@pytest.mark.parametrize("change, message", [
    (("points: 3", "points: three"), "item 'relu', field 'points': must be a number >= 0, got 'three'"),
    (("points: 3", "pionts: 3"), "item 'relu', field 'pionts': unknown field (did you mean 'points'?)"),
    (("check: method_values", "check: method_value"), "field 'check': unknown check 'method_value' (did you mean 'method_values'?)"),
    (("inputs: elementwise", "inputs: nope"), "field 'params.inputs': 'nope' is not one of"),
    (("inputs: elementwise}", "inputs: elementwise, examples: many}"), "field 'params.examples': must be int"),
    (("{method: relu, inputs: elementwise}", "{inputs: elementwise}"), "field 'params.method': is required"),
    (("    check: method_values", "    visibility: secret\n    check: method_values"), "field 'visibility': must be one of"),
    (("title: Demo", "title: Demo\ntotal_points: 100"), "field 'total_points': says 100 but the items add up to 3"),
    (("title: Demo", "title: [Demo"), "is not valid YAML"),
])
def test_invalid_rubrics_name_the_file_item_and_field(tmp_path, change, message):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(RubricError) as info:
        load_rubric(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_duplicate_ids_and_unknown_dependencies_are_rejected(tmp_path):
    twice = GOOD + GOOD[GOOD.index("  - id"):]
    with pytest.raises(RubricError, match="item 'relu', field 'id': is used by two items"):
        load_rubric(write(tmp_path, twice))
    dep = GOOD.replace("    check: method_values", "    depends_on: [ghost]\n    check: method_values")
    with pytest.raises(RubricError, match="names unknown item 'ghost'"):
        load_rubric(write(tmp_path, dep))


def test_a_data_check_without_a_data_section_is_rejected(tmp_path):
    text = GOOD + "  - id: acc\n    name: acc\n    points: 1\n    check: accuracy_gate\n    params: {threshold: 0.5}\n"
    with pytest.raises(RubricError, match="field 'data': is required by item"):
        load_rubric(write(tmp_path, text))


def test_a_missing_rubric_file_is_a_clear_error(tmp_path):
    with pytest.raises(RubricError, match="cannot be read"):
        load_rubric(tmp_path / "absent.yaml")
