"""Batch grading, the way an instructor meets it: a folder of submission folders or a Gradescope
export in, a gradebook, per-student feedback, a summary and plots out; bad submissions become rows
with their error; reruns grade only what changed; local workers and a Dask cluster agree; a
grader-side error is flagged, never a student's zero, and never cached; the per-student gradebooks
carry the export's ids, times and lateness, and canvas.csv imports into Canvas."""
from __future__ import annotations

import csv
import re
import shutil
from datetime import datetime, timedelta, timezone

import pytest

from grader import api, batch as batch_mod, cli, data
from grader.submissions import minutes_late, parse_time

from .conftest import REFERENCE_MLP, TEMPLATE_MLP, mutate

ITEMS = ["init_zero", "forward", "backward_sigmoid"]  # backward_sigmoid is a hidden item
DUE = "2024-03-01T23:59:00+00:00"
CANVAS_COLUMN = "HW 3: MLP (12345)"
METADATA = """\
s1:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1001'
    :email: ada@example.edu
  :created_at: 2024-03-01 22:00:00.123456000 Z
  :score: 17.0
s2:
  :submitters:
  - :name: Alan Turing
    :sid: '1002'
    :email: alan@example.edu
  - :name: Grace Hopper
    :sid: 1003
    :email: grace@example.edu
  :created_at: 2024-03-02 00:04:30.000000000 Z
"""


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
        (root / "submission_metadata.yml").write_text(METADATA)
    return root


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _batch(root, out, **kwargs):
    return api.batch(root, assignment="mlp", output=out, items=ITEMS, progress=False, due=DUE, grace_minutes=5,
                     canvas_assignment=CANVAS_COLUMN, **kwargs)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = _make_class(tmp_path_factory.mktemp("class") / "in", export=True)
    out = tmp_path_factory.mktemp("out")
    return root, out, _batch(root, out)


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
    again = _batch(root, out)
    assert (again.graded, again.cached) == (0, 5)
    assert (out / "grades.csv").read_text() == first
    (root / "s6").mkdir()
    # The cache is keyed by content: a file identical to another one's is not graded twice.
    (root / "s6" / "solution.py").write_text(REFERENCE_MLP.read_text() + "# s6\n")
    (root / "s2" / "solution.py").write_text(REFERENCE_MLP.read_text() + "# s2, resubmitted\n")
    more = _batch(root, out)
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
    summary = api.batch(root, assignment="mlp", output=tmp_path / "out", items=["init_zero"], progress=False)
    rows = {r["submission"]: r for r in _rows(tmp_path / "out" / "grades.csv")}
    assert "MemoryError" in rows["s2"]["error"] and rows["s1"]["total"] == "3"
    # The grader's failure, not the student's: no total, flagged, and not cached (4 of the 5 are).
    assert rows["s2"]["error_by"] == "platform" and rows["s2"]["total"] == "" and rows["s2"]["init_zero"] == ""
    assert [r.submission for r in summary.grader_side_errors] == ["s2"]
    assert len(list((tmp_path / "out" / "cache").glob("*.json"))) == 4


def test_two_local_workers_and_a_dask_cluster_give_the_same_gradebook(graded, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    root, out, _ = graded
    expected = _rows(out / "grades.csv")
    _batch(root, tmp_path / "local", workers=2)
    assert _rows(tmp_path / "local" / "grades.csv") == expected
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        _batch(root, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert _rows(tmp_path / "dask" / "grades.csv") == expected


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder of submissions"):
        api.batch(tmp_path / "nope", assignment="mlp", output=tmp_path / "out", progress=False)


GATE = ["no_forbidden_imports", "best_config", "accuracy"]  # the accuracy gate needs Fashion-MNIST


def test_a_grader_side_error_is_flagged_exits_non_zero_and_is_never_cached(tmp_path, monkeypatch, capsys):
    root = tmp_path / "in"
    for name, text in {"s1": REFERENCE_MLP.read_text(), "s4": "def broken(:\n"}.items():
        (root / name).mkdir(parents=True)
        (root / name / "solution.py").write_text(text)
    out, empty = tmp_path / "out", tmp_path / "no-data"
    empty.mkdir()
    args = ["batch", str(root), "--assignment", "mlp", "-o", str(out), *(f"--item={i}" for i in GATE)]
    monkeypatch.delenv("GRADER_DATA_ROOT", raising=False)
    real_dirs, real_split = data.candidate_dirs, data.load_split
    with monkeypatch.context() as machine_without_data:  # neither --data-root nor Debian's package has it
        machine_without_data.setattr(data, "candidate_dirs", lambda name, root=None: [
            d for d in real_dirs(name, root) if not str(d).startswith("/usr/share/datasets")])
        assert cli.main([*args, "--data-root", str(empty)]) == 3
    assert "could not grade 1 submission(s)" in capsys.readouterr().err
    rows = {r["submission"]: r for r in _rows(out / "grades.csv")}
    assert rows["s1"]["error_by"] == "platform" and "fashion-mnist data set was not found" in rows["s1"]["error"]
    assert rows["s1"]["total"] == "" and rows["s1"]["accuracy"] == "" and rows["s1"]["best_config"] == "3"
    assert rows["s4"]["error_by"] == "student" and rows["s4"]["total"] == "0"  # a student's error is a grade
    assert [r[-1] for r in csv.reader(open(out / "canvas.csv"))][2:] == ["", "0"]  # s1 blank: not a zero
    summary = (out / "summary.md").read_text()
    assert summary.index("Grader-side errors: 1 submission") < summary.index("| item |")
    assert "`s1`" in summary and "--data-root" in summary and "apt-get install" in summary
    assert len(list((out / "cache").glob("*.json"))) == 1  # s4's only
    # The data set is back (a small split of it keeps this test fast): the rerun grades s1 again.
    monkeypatch.setattr(data, "load_split", lambda name, **kw: real_split(name, **{**kw, "train_size": 600,
                                                                                     "val_size": 200}))
    assert cli.main(args) == 0
    assert "Graded 1 submission(s) (1 from the cache)" in capsys.readouterr().out
    rows = {r["submission"]: r for r in _rows(out / "grades.csv")}
    assert rows["s1"]["error_by"] == "" and rows["s1"]["accuracy"] in ("0", "16") and rows["s1"]["total"] != ""
    assert "Grader-side" not in (out / "summary.md").read_text()


def test_a_syntax_error_is_said_in_the_gradebook(graded):
    _, out, _ = graded
    rows = {r["submission"]: r for r in _rows(out / "grades.csv")}
    assert rows["s4"]["error_by"] == "student" and "SyntaxError" in rows["s4"]["error"]
    assert "solution.py could not be imported" in rows["s4"]["error"] and "\n" not in rows["s4"]["error"]
    assert rows["s2"]["error"] == "" and rows["s2"]["error_by"] == ""  # the untouched template: a zero, no error
    assert "SyntaxError" in (out / "summary.md").read_text()


def test_a_group_submission_gives_one_row_per_student_with_ids(graded):
    _, out, _ = graded
    rows = _rows(out / "students.csv")
    assert [(r["student"], r["sid"], r["email"], r["submission"]) for r in rows[:3]] == [
        ("Ada Lovelace", "1001", "ada@example.edu", "s1"), ("Alan Turing", "1002", "alan@example.edu", "s2"),
        ("Grace Hopper", "1003", "grace@example.edu", "s2")]
    by_name = {r["student"]: r for r in rows}
    assert [r["student"] for r in rows[3:]] == ["s3", "s4", "s5"]  # no metadata: the folder names the student
    assert by_name["Alan Turing"]["total"] == by_name["Grace Hopper"]["total"] == "0"
    assert (by_name["Ada Lovelace"]["submitted_at"], by_name["Ada Lovelace"]["minutes_late"],
            by_name["Ada Lovelace"]["late"]) == ("2024-03-01T22:00:00+00:00", "0", "no")
    # 5 min 30 s after the due date: 6 minutes late, past the 5 minutes of grace.
    assert (by_name["Grace Hopper"]["minutes_late"], by_name["Grace Hopper"]["late"]) == ("6", "yes")
    assert by_name["s3"]["submitted_at"] == by_name["s3"]["minutes_late"] == by_name["s3"]["late"] == ""
    assert "no solution.py" in by_name["s5"]["error"] and by_name["s5"]["error_by"] == "student"


def _canvas_import(path) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """canvas.csv read the way Canvas's gradebook importer reads it (canvas-lms,
    app/models/gradebook_importer.rb): a header with "Student" then "ID", "SIS User ID" and "SIS Login ID",
    the student columns closed by "Section"; assignments after; an optional "Points Possible" row.
    Returns the assignment headers, their points possible, and each SIS User ID's score."""
    with open(path, newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    header = table[0]
    assert len(header) > 3 and "Student" in header[0] and "ID" in header[1]
    assert re.search(r"SIS\s+User\s+ID", header[2]) and re.search(r"SIS\s+Login\s+ID", header[3])
    student_columns = 5
    assert "Section" in header[student_columns - 1]
    assignments = header[student_columns:]
    assert all(len(row) == len(header) for row in table)
    points = {}
    if "Points Possible" in table[1][0]:
        points = dict(zip(assignments, table[1][student_columns:]))
        table = table[1:]
    return assignments, points, {row[2] or row[0]: row[student_columns] for row in table[1:]}


def test_the_canvas_export_has_canvas_columns(graded):
    _, out, _ = graded
    assignments, points, scores = _canvas_import(out / "canvas.csv")
    assert assignments == [CANVAS_COLUMN] and re.fullmatch(r".+ \(\d+\)", assignments[0])
    assert points == {CANVAS_COLUMN: "17"}
    assert scores == {"1001": "17", "1002": "0", "1003": "0", "s3": "17", "s4": "0", "s5": "0"}
    with open(out / "canvas.csv", newline="") as f:
        ada = next(r for r in csv.reader(f) if r[0] == "Ada Lovelace")
    assert ada[1] == "" and ada[3] == "ada@example.edu"  # no Canvas user id in an export: SIS ids match instead


def test_submission_times_are_read_as_gradescope_writes_them():
    utc = datetime(2024, 3, 1, 22, 0, 0, 123456, tzinfo=timezone.utc)
    assert parse_time("2024-03-01 22:00:00.123456000 Z") == utc
    assert parse_time("2024-03-01 14:00:00.123456 -08:00") == utc
    assert parse_time(utc) == utc and parse_time("soon") is None and parse_time(None) is None
    due = utc + timedelta(minutes=1)
    assert (minutes_late(utc, due), minutes_late(due + timedelta(seconds=1), due), minutes_late(utc, None)) == (0, 1, None)
