"""Memory in a container of Gradescope's size, tested in real memory cgroups (v1, else v2): the grader
runs as a subprocess inside one. A student who uses too much gets a MemoryError with the figures; the
kernel's OOM killer, or a failure while the grader sends data, is an error of the autograder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from grader.sandbox.container import memory_cgroup

from .conftest import REFERENCE_MLP, ROOT, mutate

CGROUP = Path("/sys/fs/cgroup")
CHILD = ("import json, sys; from grader import api; "
         "r = api.grade(sys.argv[1], rubric=sys.argv[2], items=['accuracy']); print(json.dumps(r.to_dict()))")
TRAIN_START = "        n = X_train.shape[0]\n        for _ in range(n_epochs):"


class Cgroup:
    """A fresh memory (and CPU) cgroup; `run` starts a command inside it."""

    def __init__(self, memory_mb: int, cpus: float = 0.5):
        name = f"grader-test-{uuid.uuid4().hex[:8]}"
        if (CGROUP / "memory" / "memory.limit_in_bytes").is_file():
            self.folders = [CGROUP / "memory" / name, CGROUP / "cpu" / name]
            for folder in self.folders:
                folder.mkdir()
            (self.folders[0] / "memory.limit_in_bytes").write_text(str(memory_mb * 2**20))
            (self.folders[1] / "cpu.cfs_period_us").write_text("100000")
            (self.folders[1] / "cpu.cfs_quota_us").write_text(str(int(cpus * 100000)))
        else:
            self.folders = [CGROUP / name]
            self.folders[0].mkdir()
            (self.folders[0] / "memory.max").write_text(str(memory_mb * 2**20))
            (self.folders[0] / "cpu.max").write_text(f"{int(cpus * 100000)} 100000")

    def run(self, args: list[str], timeout: float) -> subprocess.CompletedProcess:
        enter = "; ".join(f"echo $$ > {f}/cgroup.procs" for f in self.folders)
        return subprocess.run(["sh", "-c", f'{enter} && exec "$@"', "sh", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout)

    def remove(self) -> None:
        for folder in self.folders:
            folder.rmdir()


def _writable_reason() -> str | None:
    if os.geteuid() != 0:
        return "memory cgroups need root"
    v1, v2 = CGROUP / "memory", CGROUP / "cgroup.subtree_control"
    if (v1 / "memory.limit_in_bytes").is_file() and os.access(v1, os.W_OK) and os.access(CGROUP / "cpu", os.W_OK):
        return None
    if v2.is_file() and "memory" in v2.read_text() and os.access(CGROUP, os.W_OK):
        return None
    return "no writable cgroup memory controller (v1 memory + cpu, or v2 with memory delegated)"


pytestmark = pytest.mark.skipif(_writable_reason() is not None, reason=str(_writable_reason()))


@pytest.fixture
def cgroup():
    made = []

    def make(memory_mb: int) -> Cgroup:
        made.append(Cgroup(memory_mb))
        return made[-1]

    yield make
    for group in made:
        group.remove()


def _grade_in(group: Cgroup, tmp_path: Path, source: str, *, train_size: int = 55000, val_size: int = 5000):
    """Grades the `accuracy` gate of mlp for `source` in `group`, with a training split of `train_size`."""
    rubric = (ROOT / "rubrics" / "mlp.yaml").read_text()
    rubric = mutate(rubric, "train_size: 55000", f"train_size: {train_size}")
    rubric = mutate(rubric, "val_size: 5000", f"val_size: {val_size}")
    (tmp_path / "mlp.yaml").write_text(rubric)
    (tmp_path / "solution.py").write_text(source)
    done = group.run([sys.executable, "-c", CHILD, str(tmp_path / "solution.py"), str(tmp_path / "mlp.yaml")], 240)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result, result["items"][0]


def _train_starts_with(code: str) -> str:
    return mutate(REFERENCE_MLP.read_text(), TRAIN_START, code + "\n" + TRAIN_START)


def test_training_that_exhausts_memory_gets_a_memory_error_with_the_figures(cgroup, tmp_path):
    source = _train_starts_with("        X_train = X_train.astype(np.float64)\n"
                                "        X_train = (X_train - X_train.mean()) / X_train.std()")
    result, item = _grade_in(cgroup(768), tmp_path, source)
    assert item["status"] == "failed", item
    assert "NN.train used more than" in item["message"] and "raised MemoryError" in item["message"]
    assert "the training set is 55,000 x 784; a float64 copy of it is 345 MB" in item["message"]
    limit = int(item["message"].split("used more than ")[1].split(" MB")[0].replace(",", ""))
    assert 500 <= limit < 768


def test_a_student_may_use_500_mb_in_a_768_mb_container(cgroup, tmp_path):
    source = _train_starts_with("        held = np.ones(500 * 2**20 // 8)")
    result, item = _grade_in(cgroup(768), tmp_path, source, train_size=5000, val_size=1000)
    assert "validation accuracy" in item["message"], item  # it trained, and the gate judged it


def test_an_oom_kill_is_an_error_of_the_autograder(cgroup, tmp_path):
    # Shared memory escapes the worker's data limit, so the container's OOM killer ends the worker.
    source = _train_starts_with("        import mmap\n        block = mmap.mmap(-1, 900 * 2**20)\n"
                                "        for i in range(0, len(block), 4096):\n            block[i] = 1")
    result, item = _grade_in(cgroup(768), tmp_path, source, train_size=2000, val_size=500)
    assert item["status"] == "error", item
    assert "The autograder ran out of memory during NN.train" in item["message"]
    assert "not of your code" in item["message"]
    assert any("OOM killer" in n and "container" in n for n in result["notes"]), result["notes"]


def test_running_out_while_the_grader_sends_the_training_set_is_an_error_of_the_autograder(cgroup, tmp_path):
    result, item = _grade_in(cgroup(300), tmp_path, REFERENCE_MLP.read_text())
    assert item["status"] == "error", item
    assert "The autograder failed while it was sending your code" in item["message"]
    assert "solution.py must not end the process" not in item["message"]
    assert any("memory" in n for n in result["notes"]), result["notes"]


def test_the_container_limit_is_read_from_the_cgroup(cgroup):
    group = cgroup(640)
    code = "from grader.sandbox.container import memory_cgroup as m; c = m(); print(c.version, c.limit_bytes())"
    done = group.run([sys.executable, "-c", code], 60)
    version, limit = done.stdout.split()
    assert int(limit) == 640 * 2**20 and version in ("1", "2"), done.stderr


def test_v2_is_read_where_v1_has_no_memory_controller(tmp_path):
    (tmp_path / "proc").write_text("1:cpu:/\n0::/box\n")
    box = tmp_path / "sys" / "box"
    box.mkdir(parents=True)
    (box / "memory.max").write_text("805306368\n")
    (box / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n")
    (tmp_path / "sys" / "memory.max").write_text("max\n")
    found = memory_cgroup(str(tmp_path / "proc"), str(tmp_path / "sys"))
    assert (found.version, found.limit_bytes(), found.oom_kills()) == (2, 768 * 2**20, 2)
