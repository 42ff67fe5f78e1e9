"""Batch grading, the way an instructor meets it: a folder of submission folders or a Gradescope
export in, a gradebook, per-student feedback, a summary and plots out; bad submissions become rows
with their error; reruns grade only what changed; local workers and a Dask cluster agree."""
from __future__ import annotations

import csv
import shutil

import pytest

from grader import api, batch as batch_mod

from .conftest import REFERENCE_MLP, TEMPLATE_MLP, mutate

ITEMS = ["init_zero", "forward", "backward_sigmoid"]  # backward_sigmoid is a hidden item


def _make_class(root, *, export=False):
    reference = REFERENCE_MLP.read_text()
    sources = {
        "s1": reference,
        "s2": TEMPLATE_MLP.read_text(),
        "s3": mutate(reference, "return (x > 0).astype(float)", "return (x >= 0).astype(float)"),
        "s4": "def broken(:\n",
    }
    for name, text in sources.items():
        (root / name).mkdir(parents=True)
        (root / name / "solution.py").write_text(text)
    (root / "s5").mkdir()
    (root / "s5" / "notes.txt").write_text("I forgot the file")
    if export:
        (root / "submission_metadata.yml").write_text(
            "s1:\n  :submitters:\n  - :name: Ada Lovelace\n    :email: ada@example.edu\n"
            "s2:\n  :submitters:\n  - :name: Alan Turing\n  - :name: Grace Hopper\n")
    return root


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = _make_class(tmp_path_factory.mktemp("class") / "in", export=True)
    out = tmp_path_factory.mktemp("out")
    summary = api.batch(root, assignment="mlp", output=out, items=ITEMS, progress=False)
    return root, out, summary


def test_every_submission_becomes_a_row_with_its_points_or_its_error(graded):
    _, out, summary = graded
    rows = {r["submission"]: r for r in _rows(out / "grades.csv")}
    assert list(rows) == ["s1", "s2", "s3", "s4", "s5"]
    assert rows["s1"]["total"] == "17" and rows["s1"]["max"] == "17" and rows["s1"]["error"] == ""
    assert rows["s2"]["total"] == "0"
    assert rows["s4"]["total"] == "0" and rows["s4"]["forward"] == "0"
    assert "no solution.py" in rows["s5"]["error"]
    assert set(rows["s1"]) >= {"student", *ITEMS, "total", "max", "error"}
    assert summary.graded == 5 and summary.cached == 0


def test_gradescope_export_names_the_students(graded):
    _, out, _ = graded
    rows = {r["submission"]: r["student"] for r in _rows(out / "grades.csv")}
    assert rows["s1"] == "Ada Lovelace" and rows["s2"] == "Alan Turing, Grace Hopper" and rows["s3"] == "s3"


def test_feedback_holds_every_item_hidden_ones_included_and_the_summary_shows_the_class(graded):
    _, out, _ = graded
    s4 = (out / "feedback" / "s4.md").read_text()
    assert "backward_sigmoid" in s4 and "SyntaxError" in s4 and "| hidden |" in s4
    summary = (out / "summary.md").read_text()
    assert "5 submissions" in summary and "| forward | 10 |" in summary and "s5" in summary
    for name in ("score_histogram.png", "item_pass_rates.png"):
        assert (out / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"plots/{name}" in summary


def test_a_rerun_grades_only_what_changed(graded, tmp_path):
    root, out = shutil.copytree(graded[0], tmp_path / "in"), shutil.copytree(graded[1], tmp_path / "out")
    first = (out / "grades.csv").read_text()
    again = api.batch(root, assignment="mlp", output=out, items=ITEMS, progress=False)
    assert (again.graded, again.cached) == (0, 5)
    assert (out / "grades.csv").read_text() == first
    (root / "s6").mkdir()
    # The cache is keyed by content: a file identical to another one's is not graded twice.
    (root / "s6" / "solution.py").write_text(REFERENCE_MLP.read_text() + "# s6\n")
    (root / "s2" / "solution.py").write_text(REFERENCE_MLP.read_text() + "# s2, resubmitted\n")
    more = api.batch(root, assignment="mlp", output=out, items=ITEMS, progress=False)
    assert (more.graded, more.cached) == (2, 4)
    assert {r["submission"]: r["total"] for r in _rows(out / "grades.csv")}.items() >= {"s2": "17", "s6": "17"}.items()


def test_a_grader_failure_on_one_submission_is_a_row_and_the_batch_goes_on(tmp_path, monkeypatch):
    root = _make_class(tmp_path / "in")
    real = batch_mod.grade_one

    def flaky(solution, *args):
        if solution and solution.endswith("s2/solution.py"):
            raise MemoryError("the grader ran out of memory")
        return real(solution, *args)

    monkeypatch.setattr(batch_mod, "grade_one", flaky)
    api.batch(root, assignment="mlp", output=tmp_path / "out", items=["init_zero"], progress=False)
    rows = {r["submission"]: r for r in _rows(tmp_path / "out" / "grades.csv")}
    assert "MemoryError" in rows["s2"]["error"] and rows["s1"]["total"] == "3"


def test_two_local_workers_and_a_dask_cluster_give_the_same_gradebook(graded, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    root, out, _ = graded
    expected = _rows(out / "grades.csv")
    api.batch(root, assignment="mlp", output=tmp_path / "local", items=ITEMS, workers=2, progress=False)
    assert _rows(tmp_path / "local" / "grades.csv") == expected
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        api.batch(root, assignment="mlp", output=tmp_path / "dask", items=ITEMS, scheduler=cluster.scheduler_address,
                  progress=False)
    assert _rows(tmp_path / "dask" / "grades.csv") == expected


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder of submissions"):
        api.batch(tmp_path / "nope", assignment="mlp", output=tmp_path / "out", progress=False)
