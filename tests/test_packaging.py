"""The Gradescope autograder zip, met the way Gradescope meets it: unpacked into <root>/source,
`run_autograder` copied to <root>/run_autograder and run from <root> as root, with a Python that has
only what `setup.sh` installed (its own virtual environment: the grader itself is not installed
anywhere); the results.json it leaves checked against Gradescope's format, and its scores against
`grader batch` on the same submissions."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest
import yaml

from grader import api
from grader.packaging import locked
from grader.packaging.autograder import IDX_FILES
from grader.rubric import load_rubric

from .conftest import IS_ROOT, REFERENCE_MLP, ROOT, TEMPLATE_MLP, mutate

# A quick part of the mlp rubric (no accuracy gate: no data set, no torch), with one item shown after
# the due date, one hidden, and the gate of the NumPy-only rule.
ITEMS = ["no_forbidden_imports", "relu", "softmax", "softmax_stable", "forward", "backward_relu",
         "backward_sigmoid", "update", "count_parameters"]


@pytest.fixture(scope="module")
def quick_rubric(tmp_path_factory) -> Path:
    raw = yaml.safe_load((ROOT / "rubrics" / "mlp.yaml").read_text())
    raw["items"] = [i for i in raw["items"] if i["id"] in ITEMS]
    for item in raw["items"]:
        item["depends_on"] = [d for d in item.get("depends_on", []) if d in ITEMS]
    raw.pop("data")
    raw["total_points"] = sum(i["points"] for i in raw["items"])
    path = tmp_path_factory.mktemp("rubric") / "mlp.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_the_zip_holds_the_grader_rubric_reference_scripts_and_lock_and_nothing_else(tmp_path):
    with zipfile.ZipFile(api.autograder(assignment="backprop", output=tmp_path / "backprop.zip")) as archive:
        names = archive.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        setup = archive.read("setup.sh").decode()
        lock = archive.read("requirements.lock").decode()
    fixed = ("setup.sh", "run_autograder", "requirements.lock", "rubrics/backprop.yaml",
             "reference/backprop/solution.py")
    assert set(fixed) | {"grader/cli.py", "grader/sandbox/worker.py"} <= set(names)
    assert [n for n in names if not n.startswith("grader/") and n not in fixed] == []
    assert all(n.endswith(".py") for n in names if n.startswith("grader/"))
    assert not any("__pycache__" in n or "student_template" in n or n.startswith("tests/") for n in names)
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    # Every package pinned to one version, from the project's lock; torch as the CPU build of its pin.
    assert "hypothesis==6.155.2" in lock and "numpy==" in lock and "scipy==" in lock and "PyYAML==" in lock
    assert "torch" not in lock and "'torch==2.13.0' --index-url" in setup and "download.pytorch.org/whl/cpu" in setup
    assert "fashion-mnist" not in setup  # backprop needs no data set


def test_the_lock_pins_what_the_project_depends_on_within_its_ranges():
    from importlib import metadata
    from packaging.requirements import Requirement

    pins = {}
    for line in locked()[0].splitlines() + [locked()[1]]:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate():
            (spec,) = req.specifier
            assert spec.operator == "==", line
            pins[req.name.lower()] = spec.version
    for dependency in metadata.requires("dl-grader"):
        req = Requirement(dependency)
        if req.marker is None:
            assert req.name.lower() in pins and req.specifier.contains(pins[req.name.lower()]), dependency


def test_the_zip_is_reproducible_and_fetches_data_only_over_https_with_checksums(tmp_path):
    first = api.autograder(assignment="mlp", output=tmp_path / "a.zip").read_bytes()
    assert api.autograder(assignment="mlp", output=tmp_path / "b.zip").read_bytes() == first
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        setup = archive.read("setup.sh").decode()
    assert "dataset-fashion-mnist" in setup and "torch" not in setup and "http://" not in setup
    for name, (md5, sha256) in IDX_FILES.items():
        assert f"fetch {name} {md5} {sha256}" in setup
    assert "md5sum --check" in setup and "sha256sum" in setup


def test_the_data_checksums_match_debians_fashion_mnist():
    folder = Path("/usr/share/datasets/fashion-mnist")
    if not folder.is_dir():
        pytest.skip("dataset-fashion-mnist is not installed")
    for name, (_, sha256) in IDX_FILES.items():
        with gzip.open(folder / name) as f:
            assert hashlib.sha256(f.read()).hexdigest() == sha256, name


SPY = '''

import os as _os
_SOURCE = "{source}"


def _try_read():
    try:
        return open(_os.path.join(_SOURCE, "reference", "mlp", "solution.py")).read()[:10]
    except OSError as exc:
        return type(exc).__name__


_READ = _try_read()
try:  # forge a perfect result
    with open(_os.path.join(_SOURCE, "..", "results", "results.json"), "w") as _f:
        _f.write('{{"score": 1000, "tests": []}}')
except OSError:
    pass
if not _READ.endswith("Error"):
    raise RuntimeError("the reference was readable")
'''

RELU_SOMETIMES_WRONG = ("        return np.maximum(x, 0)",
                        "        if x.ndim == 2 and x.shape[0] % 4 == 3:\n            return np.abs(x)\n"
                        "        return np.maximum(x, 0)")


@pytest.fixture(scope="module")
def gradescope(quick_rubric):
    """A fresh root laid out as Gradescope lays it out, with setup.sh's environment made once; returns
    grade(solution_text) -> (results.json, stdout). Outside /tmp: the sandbox gives the worker a private
    /tmp, and Gradescope's root is not there either."""
    parent = Path("/var/lib") if IS_ROOT else Path(tempfile.gettempdir())
    root = Path(tempfile.mkdtemp(prefix="grader-gradescope-", dir=parent))
    try:
        with zipfile.ZipFile(api.autograder(rubric=quick_rubric, output=root.parent / f"{root.name}.zip")) as z:
            z.extractall(root / "source")
        (root.parent / f"{root.name}.zip").unlink()
        for name in ("setup.sh", "run_autograder"):  # zipfile does not restore permissions
            (root / "source" / name).chmod(0o755)
        shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GRADER_", "VIRTUAL_ENV"))}
        env.update(GRADER_GRADESCOPE_ROOT=str(root))
        setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], env={**env, "GRADER_SETUP_SYSTEM": "0"},
                               cwd=root / "source", capture_output=True, text=True, timeout=600)
        if setup.returncode != 0 and "Could not find a version" in setup.stderr + setup.stdout:
            pytest.skip(f"the package index cannot be reached: {setup.stderr[-500:]}")
        assert setup.returncode == 0, setup.stderr[-3000:]

        def grade(source: str, metadata: dict | None = None):
            shutil.rmtree(root / "submission", ignore_errors=True)
            shutil.rmtree(root / "results", ignore_errors=True)
            (root / "submission").mkdir()
            (root / "submission" / "solution.py").write_text(source)
            (root / "submission_metadata.json").write_text(json.dumps(metadata or {"users": [{"name": "Ada"}]}))
            proc = subprocess.run([str(root / "run_autograder")], env=env, cwd=root, capture_output=True, text=True,
                                  timeout=600)
            assert proc.returncode == 0, proc.stderr[-3000:]
            return json.loads((root / "results" / "results.json").read_text()), proc.stdout + proc.stderr

        grade.root = root
        yield grade
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _check_results_schema(doc: dict, rubric) -> None:
    assert set(doc) >= {"execution_time", "output", "tests", "stdout_visibility"}
    assert isinstance(doc["execution_time"], (int, float))
    assert isinstance(doc["output"], str) and doc["stdout_visibility"] == "hidden"
    assert len(doc["tests"]) == len(rubric.items)
    for test, item in zip(doc["tests"], rubric.items):
        assert {"name", "score", "max_score", "status", "visibility", "output"} <= set(test)
        assert test["name"].startswith(item.id) and test["max_score"] == item.points
        assert test["status"] in ("passed", "failed") and test["visibility"] == item.visibility
        assert isinstance(test["output"], str) and 0 <= test["score"] <= test["max_score"]
    assert "score" not in doc  # hidden items: Gradescope adds up the tests, each shown as allowed


def _modes(root: Path) -> dict[str, tuple[int, int, int]]:
    """Owner, group and mode of everything under `root` outside source/ and results/."""
    out = {}
    for path in [root, *root.rglob("*")]:
        rel = path.relative_to(root)
        if rel.parts and rel.parts[0] in ("source", "results"):
            continue
        st = path.lstat()
        out[str(rel)] = (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
    return out


def test_run_autograder_grades_as_gradescope_runs_it(gradescope, quick_rubric):
    root = gradescope.root
    spy = REFERENCE_MLP.read_text() + SPY.format(source=root / "source")
    if IS_ROOT:  # the submission belongs to someone else: run_autograder must leave it as it is
        shutil.rmtree(root / "submission", ignore_errors=True)
    doc, _ = gradescope(spy)
    rubric = load_rubric(root / "source" / "rubrics" / "mlp.yaml")
    _check_results_schema(doc, rubric)
    failed = {t["name"]: t["output"] for t in doc["tests"] if t["status"] != "passed"}
    assert "Ada" in doc["output"]
    if IS_ROOT:  # the sandbox user could neither read the reference nor forge the results
        assert failed == {} and sum(t["score"] for t in doc["tests"]) == rubric.total_points
        assert oct((root / "source").stat().st_mode & 0o077) == "0o0"
        # Nothing outside source/ and results/ changes owner or mode, the submission included.
        os.chown(root / "submission", 1234, 1234)
        os.chown(root / "submission" / "solution.py", 1234, 1234)
        os.chmod(root / "submission" / "solution.py", 0o664)
        before = _modes(root)
        proc = subprocess.run([str(root / "run_autograder")], cwd=root, capture_output=True, text=True, timeout=600,
                              env={"PATH": os.environ["PATH"], "GRADER_GRADESCOPE_ROOT": str(root)})
        assert proc.returncode == 0 and _modes(root) == before


def test_run_autograder_gives_a_result_for_a_crashing_submission(gradescope):
    doc, _ = gradescope("import numpy as np\n\nraise SystemExit('bye')\nclass NN:\n")
    assert len(doc["tests"]) == len(ITEMS) and sum(t["score"] for t in doc["tests"]) == 0
    relu = next(t for t in doc["tests"] if t["name"].startswith("relu"))
    assert "solution.py" in relu["output"] and "import" in relu["output"], relu["output"]


def test_run_autograder_writes_a_result_even_when_the_grader_cannot_start(tmp_path):
    root = tmp_path / "autograder"
    with zipfile.ZipFile(api.autograder(assignment="mlp", output=tmp_path / "mlp.zip")) as z:
        z.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)
    (root / "submission").mkdir()
    (root / "submission" / "solution.py").write_text(TEMPLATE_MLP.read_text())
    # No setup.sh was run: there is no virtual environment to grade with.
    proc = subprocess.run([str(root / "run_autograder")], cwd=root, capture_output=True, text=True, timeout=120,
                          env={"PATH": os.environ["PATH"], "GRADER_GRADESCOPE_ROOT": str(root)})
    assert proc.returncode == 0
    doc = json.loads((root / "results" / "results.json").read_text())
    assert doc["score"] == 0 and "The autograder failed before grading" in doc["output"]


def test_the_zip_and_grader_batch_give_the_same_scores(gradescope, quick_rubric, tmp_path):
    reference = REFERENCE_MLP.read_text()
    submissions = {
        "reference": reference,
        "relu_sometimes_wrong": mutate(reference, *RELU_SOMETIMES_WRONG),
        "not_averaged": mutate(reference, 'dA = (cache[f"Z{L}"] - labels) / n', 'dA = cache[f"Z{L}"] - labels'),
        "template": TEMPLATE_MLP.read_text(),
        # helpers the rubric allows: setup.sh installed them, and the sandbox lets the student import them
        "helpers": "from tqdm import tqdm\nimport matplotlib.pyplot as plt\n" + reference,
    }
    through_zip = {}
    for name, source in submissions.items():
        doc, _ = gradescope(source)
        through_zip[name] = {t["name"].split(":")[0]: t["score"] for t in doc["tests"]}
        (tmp_path / "class" / name).mkdir(parents=True)
        (tmp_path / "class" / name / "solution.py").write_text(source)
    # The zip states its salt; the repository's rubric derives the same one, and batch grades with it.
    assert load_rubric(gradescope.root / "source" / "rubrics" / "mlp.yaml").salt == load_rubric(quick_rubric).salt
    summary = api.batch(tmp_path / "class", rubric=quick_rubric, output=tmp_path / "graded", progress=False)
    through_batch = {row.submission: {i.id: i.points for i in row.result.items} for row in summary.rows}
    assert through_batch == through_zip
    assert sum(through_zip["reference"].values()) == sum(i["points"] for i in yaml.safe_load(
        quick_rubric.read_text())["items"])
    assert sum(through_zip["template"].values()) == 0
    assert through_zip["helpers"] == through_zip["reference"]
