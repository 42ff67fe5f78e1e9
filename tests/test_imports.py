"""What solution.py imports costs what it should: an unused forbidden import only the items that
depend on the rule, a used one the items that use it; an allowed helper (tqdm, matplotlib) nothing; a
package the autograder lacks a clear message, in `grader check` before anything runs too. Local
grading refuses what Gradescope's image lacks, so both give the same score."""
from __future__ import annotations

from dataclasses import replace

import pytest

from grader import cli
from grader.results import PLATFORM
from grader.rubric import RubricError, load_rubric

from .conftest import REFERENCE_MLP, by_id, mutate

ITEMS = ["no_forbidden_imports", "relu", "forward", "backward_relu", "count_parameters"]


def _failed(result) -> set[str]:
    return {i.id for i in result.items if not i.passed}


def test_an_unused_import_torch_costs_only_the_items_that_depend_on_the_rule(grade_source, mlp_rubric):
    result = grade_source("import torch\n" + REFERENCE_MLP.read_text(), mlp_rubric, only=ITEMS)
    assert _failed(result) == {"no_forbidden_imports", "backward_relu"}
    assert "torch" in by_id(result)["no_forbidden_imports"].message
    assert "needs item(s) no_forbidden_imports" in by_id(result)["backward_relu"].message


def test_using_a_forbidden_package_fails_the_item_that_uses_it_and_says_why(grade_source, mlp_rubric):
    source = mutate("import torch\n" + REFERENCE_MLP.read_text(), "        return np.maximum(x, 0)",
                    "        return torch.relu(torch.tensor(x)).numpy()")
    result = grade_source(source, mlp_rubric, only=["relu", "forward", "count_parameters"])
    assert _failed(result) == {"relu", "forward"}
    assert "torch is not allowed in this assignment (the mlp assignment is NumPy only)" in by_id(result)["relu"].message


def test_an_allowed_helper_import_keeps_every_point(grade_source, mlp_rubric):
    pytest.importorskip("tqdm")
    pytest.importorskip("matplotlib")
    source = "from tqdm import tqdm\nimport matplotlib.pyplot as plt\n" + REFERENCE_MLP.read_text()
    source = mutate(source, "        return np.maximum(x, 0)", "        plt.figure(); plt.close('all')\n"
                    "        return np.maximum(x, 0)")
    result = grade_source(source, mlp_rubric, only=["relu", "forward", "count_parameters"])
    assert _failed(result) == set(), [i.message for i in result.items]


def test_a_package_the_autograder_lacks_fails_with_a_message_that_says_what_to_do(grade_source, mlp_rubric):
    # PyYAML is installed here (the grader needs it), but the rubric does not allow it: graded here as
    # on Gradescope, whose image may not have it.
    result = grade_source("import numpy as np\nimport yaml\n" + REFERENCE_MLP.read_text(), mlp_rubric,
                          only=["relu", "count_parameters"])
    assert _failed(result) == {"relu", "count_parameters"}
    message = by_id(result)["relu"].message
    assert "solution.py imports yaml (line 2), which the autograder does not have: remove the import of yaml, " \
           "or ask the course staff to allow it" in message, message
    assert "Traceback" not in message


def test_grader_check_warns_at_once_about_an_import_the_autograder_lacks(tmp_path, capsys):
    solution = tmp_path / "solution.py"
    solution.write_text("import torch\nfrom tqdm import tqdm\nimport yaml\n" + REFERENCE_MLP.read_text())
    cli.main(["check", str(solution), "--assignment", "mlp", "--item", "count_parameters"])
    out = capsys.readouterr().out
    assert "Warning: solution.py imports yaml (line 3), which the autograder does not have" in out
    assert "imports tqdm" not in out and "imports torch" not in out  # allowed; forbidden has its own item


def test_a_rubric_says_which_packages_solution_py_may_import(tmp_path):
    text = (REFERENCE_MLP.parents[2] / "rubrics" / "mlp.yaml").read_text()
    path = tmp_path / "mlp.yaml"
    path.write_text(text.replace("packages: [tqdm, matplotlib]", "packages: [tqdm, {sklearn: scikit-learn>=1.4}]"))
    spec = load_rubric(path).sandbox
    assert spec.packages == (("tqdm", "tqdm"), ("sklearn", "scikit-learn>=1.4"))
    assert spec.allowed_imports == ["numpy", "tqdm", "sklearn"]
    path.write_text(text.replace("packages: [tqdm, matplotlib]", "packages: [{my-lib: my-lib}]"))
    with pytest.raises(RubricError, match="sandbox.packages.*not a module name"):
        load_rubric(path)


def test_an_allowed_package_missing_where_the_grader_runs_is_the_platforms_error(grade_source, mlp_rubric):
    spec = replace(mlp_rubric.sandbox, packages=(("no_such_helper_pkg", "no-such-helper-pkg"),))
    result = grade_source("import no_such_helper_pkg\n" + REFERENCE_MLP.read_text(),
                          replace(mlp_rubric, sandbox=spec), only=["relu"])
    assert result.error_by == PLATFORM and result.grader_side_errors
    assert by_id(result)["relu"].status == "error"
    assert "allows but that are not installed where the grader runs: no-such-helper-pkg" in result.error

