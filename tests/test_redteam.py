"""The red-team corpus: hostile and broken submissions, each with the exact outcome it must get.

Every attack is the `mlp` reference (a perfect submission) or a known-wrong mutant of it, with the
attack added, so "costs only what it should" is measurable: the attacked items lose exactly what the
`fails` set says, the `canary` items still pass, and the grader's own result is never forged. Attacks
that need the grader to run as root (the sandbox user, namespaces, process limits) are skipped with a
reason otherwise. SECURITY.md lists them and what each costs.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import pytest

from .conftest import IS_ROOT, ROOT, by_id, mutate, with_timeouts

WRONG_BACKWARD = ('dA = (cache[f"Z{L}"] - labels) / n', 'dA = (labels - cache[f"Z{L}"]) / n')
REFERENCE_FILE = ROOT / "reference" / "mlp" / "solution.py"
RUBRIC_FILE = ROOT / "rubrics" / "mlp.yaml"


@dataclass
class Attack:
    name: str
    category: str
    prelude: str = ""                       # code at module level, before the solution
    inject: tuple[str, str] | None = None   # (method, code at the start of its body)
    wrong: bool = False                     # start from a wrong solution (backward with the wrong sign)
    items: tuple[str, ...] = ("count_parameters",)
    fails: frozenset = frozenset()          # exactly these items fail
    phrase: str = ""                        # in the first failing item's message (or the first item's)
    root_only: bool = False
    canary: tuple[str, ...] = ("relu",)     # must pass
    extra: dict = field(default_factory=dict)


def _inject(source: str, method: str, code: str) -> str:
    head = source[source.index(f"    def {method}("):]
    body = head.index('"""', head.index('"""') + 3) + 3
    anchor = head[:body]
    return mutate(source, anchor, anchor + "\n        " + code.replace("\n", "\n        "))


def build(attack: Attack, reference: str) -> str:
    source = mutate(reference, *WRONG_BACKWARD) if attack.wrong else reference
    if attack.inject:
        source = _inject(source, *attack.inject)
    return attack.prelude + "\n" + source


F = frozenset
ATTACKS = [
    # --- forging the result ---
    Attack("fake results.json at import", "forging",
           prelude="import json, os\nfor _p in [os.environ.get('RESULTS', ''), '/autograder/results/results.json']:\n"
                   "    try:\n        open(_p, 'w').write(json.dumps({'score': 100}))\n    except OSError:\n        pass\n",
           wrong=True, items=("backward_relu",), fails=F({"backward_relu"}), phrase="wrong sign"),
    Attack("append to the reference solution", "forging",
           prelude=f"try:\n    open({str(REFERENCE_FILE)!r}, 'a').write('\\nBEST_CONFIG = None\\n')\nexcept OSError:\n    pass\n",
           root_only=True),
    Attack("rewrite the rubric to give full points", "forging",
           prelude=f"try:\n    open({str(RUBRIC_FILE)!r}, 'w').write('items: []')\nexcept OSError:\n    pass\n",
           root_only=True),
    Attack("print a fake result on stdout", "forging",
           inject=("backward", 'print(\'{"score": 100, "tests": []}\')'), wrong=True,
           items=("backward_relu",), fails=F({"backward_relu"}), phrase="wrong sign"),
    Attack("a fake grader package first on sys.path", "forging",
           prelude="import os, sys\nos.makedirs('grader', exist_ok=True)\n"
                   "open('grader/__init__.py', 'w').write('raise SystemExit(0)')\nsys.path.insert(0, os.getcwd())\n",
           wrong=True, items=("backward_relu",), fails=F({"backward_relu"}), phrase="wrong sign"),
    Attack("monkeypatch numpy's comparisons", "forging",
           prelude="import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
                   "np.testing.assert_allclose = lambda *a, **k: None\n",
           wrong=True, items=("backward_relu",), fails=F({"backward_relu"}), phrase="wrong sign"),
    Attack("monkeypatch builtins", "forging",
           prelude="import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.max = lambda *a, **k: 0\n",
           wrong=True, items=("backward_relu",), fails=F({"backward_relu"})),
    Attack("an ndarray subclass that claims equality", "forging",
           prelude="import numpy as np\nclass Yes(np.ndarray):\n    def __eq__(self, o):\n        return True\n"
                   "    def __array_ufunc__(self, *a, **k):\n        return True\n",
           inject=("relu", "return np.zeros(np.shape(x)).view(Yes)"), items=("relu",), fails=F({"relu"}),
           phrase="does not match", canary=("sigmoid",)),
    Attack("a float subclass that claims equality", "forging",
           prelude="class Yes(float):\n    def __eq__(self, o):\n        return True\n    __hash__ = float.__hash__\n",
           inject=("loss", "return Yes(0.0)"), items=("loss",), fails=F({"loss"}), phrase="should return a float"),
    Attack("read the reference from disk", "forging",
           inject=("count_parameters", f"return len(open({str(REFERENCE_FILE)!r}).read())"),
           fails=F({"count_parameters"}), phrase="[Errno", root_only=True),
    Attack("read the hidden items from the rubric", "forging",
           inject=("count_parameters", f"return len(open({str(RUBRIC_FILE)!r}).read())"),
           fails=F({"count_parameters"}), phrase="[Errno", root_only=True),
    Attack("look for the grader in /proc", "forging",
           inject=("count_parameters",
                   "import os\nothers = [p for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()]\n"
                   "assert not others, [open(f'/proc/{p}/cmdline', 'rb').read()[:80] for p in others]"),
           root_only=True),
    Attack("read secrets from the environment", "forging",
           inject=("count_parameters", "import os\nassert 'REDTEAM_SECRET' not in os.environ and "
                                       "'s3cr3t' not in str(os.environ), dict(os.environ)")),
    # --- exhaustion ---
    Attack("infinite loop in a method", "exhaustion", inject=("count_parameters", "while True:\n    pass"),
           fails=F({"count_parameters"}), phrase="did not return within"),
    Attack("infinite loop at import", "exhaustion", prelude="while True:\n    pass\n",
           fails=F({"count_parameters", "relu"}), phrase="took longer than", canary=("relu",)),
    Attack("fork bomb", "exhaustion", inject=("count_parameters", "import os\nwhile True:\n    os.fork()"),
           fails=F({"count_parameters"}), root_only=True),
    Attack("a thread that keeps spinning after the call", "exhaustion",
           inject=("relu", "import threading\nif not getattr(NN, '_spin', None):\n    NN._spin = threading.Thread("
                           "target=lambda: [None for _ in iter(int, 1)], daemon=True)\n    NN._spin.start()"),
           items=("relu", "count_parameters"), canary=("sigmoid",)),
    Attack("a 10 GB allocation", "exhaustion", inject=("count_parameters", "np.ones(10 * 2**30, dtype=np.uint8)"),
           fails=F({"count_parameters"}), phrase="MemoryError"),
    Attack("deep recursion past the C stack", "exhaustion",
           inject=("count_parameters", "import sys\nsys.setrecursionlimit(10**8)\nnested = []\n"
                                       "for _ in range(10**6):\n    nested = [nested]\nrepr(nested)"),
           fails=F({"count_parameters"}), phrase="SIGSEGV"),
    Attack("a huge array returned to the grader", "exhaustion",
           inject=("count_parameters", "return np.zeros(40_000_000)"), fails=F({"count_parameters"}),
           phrase="cannot be sent"),
    Attack("hundreds of megabytes printed", "exhaustion",
           inject=("count_parameters", "import sys\nif not getattr(NN, '_printed', False):\n    NN._printed = True\n"
                                       "    for _ in range(300):\n        sys.stdout.write('y' * 2**20)"),
           extra={"output_trimmed": True}),
    Attack("filling the disk", "exhaustion",
           inject=("count_parameters", "import os\ntry:\n    for i in range(100000):\n"
                                       "        open(f'filler{i}', 'wb').write(b'0' * 2**20)\nexcept OSError:\n    pass"),
           root_only=True, extra={"no_host_filler": True}),
    # --- crashes ---
    Attack("sys.exit in a method", "crash", inject=("count_parameters", "import sys\nsys.exit(0)"),
           fails=F({"count_parameters"}), phrase="sys.exit(0)"),
    Attack("os._exit in a method", "crash", inject=("count_parameters", "import os\nos._exit(0)"),
           fails=F({"count_parameters"}), phrase="exited with status 0"),
    Attack("kill the parent process", "crash",
           inject=("count_parameters", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"),
           phrase="sent a signal", root_only=True),
    Attack("segfault through ctypes", "crash", inject=("count_parameters", "import ctypes\nctypes.string_at(0)"),
           fails=F({"count_parameters"}), phrase="SIGSEGV"),
    Attack("close the protocol's file descriptors", "crash",
           inject=("count_parameters", "import os\nos.closerange(3, 1024)"), fails=F({"count_parameters"}),
           phrase="worker"),
    Attack("abort()", "crash", inject=("count_parameters", "import os\nos.abort()"),
           fails=F({"count_parameters"}), phrase="died"),
    Attack("garbage written on the protocol", "crash",
           inject=("count_parameters", "import os\nfor fd in range(3, 64):\n    try:\n"
                                       "        os.write(fd, b'\\xff' * 64)\n    except OSError:\n        pass"),
           fails=F({"count_parameters"})),
    # --- network and programs ---
    Attack("open a network connection", "network",
           inject=("count_parameters", "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 22), timeout=1)\n"
                                       "except OSError:\n    pass"),
           phrase="opened a network connection"),
    Attack("start a program", "network",
           inject=("count_parameters", "import subprocess\ntry:\n    subprocess.run(['true'])\nexcept OSError:\n    pass"),
           phrase="started a program"),
    Attack("a daemon that outlives the worker", "exhaustion",
           inject=("count_parameters", "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                                       "        time.sleep(120)\n    os._exit(0)"),
           root_only=True, extra={"no_sandbox_processes": True}),
]


@pytest.fixture(scope="module")
def redteam_rubric(fast_rubric):
    rubric = with_timeouts(fast_rubric, 5, backward_relu=60)
    return replace(rubric, sandbox=replace(rubric.sandbox, import_timeout_s=5))


def _sandbox_processes() -> list[str]:
    out = subprocess.run(["ps", "-u", "nobody", "-o", "pid=,args="], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if "grader.sandbox.worker" in line]


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_costs_exactly_what_it_should(attack, reference_source, redteam_rubric, grade_source, tmp_path,
                                             monkeypatch):
    if attack.root_only and not IS_ROOT:
        pytest.skip("needs the grader to run as root (sandbox user, namespaces, process limits)")
    monkeypatch.setenv("REDTEAM_SECRET", "s3cr3t")
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    monkeypatch.setenv("RESULTS", str(results_dir / "results.json"))
    protected_hashes = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (REFERENCE_FILE, RUBRIC_FILE)}
    items = list(dict.fromkeys(attack.items + attack.canary))
    result = grade_source(build(attack, reference_source), redteam_rubric, only=items,
                          protected=[str(results_dir)])
    items_by_id = by_id(result)
    failed = {i.id for i in result.items if not i.passed}
    assert failed == set(attack.fails), {i: items_by_id[i].message for i in failed | set(attack.fails)}
    if attack.phrase:
        first = items_by_id[sorted(attack.fails, key=items.index)[0] if attack.fails else attack.items[0]]
        assert attack.phrase in first.message, first.message
    assert result.error is None
    for path, digest in protected_hashes.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path} was changed"
    if IS_ROOT:
        assert not (results_dir / "results.json").exists()
    if attack.extra.get("output_trimmed"):
        assert "more bytes of output not shown" in items_by_id["count_parameters"].output
    if attack.extra.get("no_host_filler"):
        assert not list(tmp_path.parent.glob("**/filler1")) and not os.path.exists("/tmp/filler1")
    if attack.extra.get("no_sandbox_processes"):
        assert _sandbox_processes() == []


def test_the_corpus_has_at_least_thirty_attacks():
    assert len(ATTACKS) >= 30
    assert {a.category for a in ATTACKS} == {"forging", "exhaustion", "crash", "network"}


@pytest.mark.skipif(not IS_ROOT, reason="submissions are kept apart by the sandbox user and namespaces")
def test_two_submissions_graded_at_once_cannot_see_each_other(reference_source, redteam_rubric, tmp_path):
    """Batch grading: a submission looks through every scratch folder for another's files."""
    from grader.runner import run_rubric
    once = "if not getattr(NN, '_done', False):\n    NN._done = True\n    "
    writer = _inject(reference_source, "count_parameters",
                     once + "import time\n    open('SECRET_OF_A.txt', 'w').write('answer')\n    time.sleep(3)")
    snooper = _inject(reference_source, "count_parameters",
                      once + "import os, time\n    time.sleep(1)\n    found = []\n"
                      "    for top in ('/tmp', '/var/tmp', '/dev/shm'):\n"
                      "        for root, dirs, names in os.walk(top):\n"
                      "            found += [n for n in names if n.startswith('SECRET_OF_A')]\n"
                      "    assert not found, found")
    paths = []
    for name, source in (("a", writer), ("b", snooper)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "solution.py").write_text(source)
        paths.append(tmp_path / name / "solution.py")
    rubric = with_timeouts(redteam_rubric.select(only=["count_parameters"]), 30)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda p: run_rubric(rubric, p), paths))
    assert [r.items[0].passed for r in results] == [True, True], [r.items[0].message for r in results]
