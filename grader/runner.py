"""Runs a rubric's items against one submission. Every item ends with a result, whatever the
student's code does; one item's timeout or crash costs that item only (the worker is restarted).
"""
from __future__ import annotations

import importlib.util
import time
import traceback
from pathlib import Path
from typing import Callable

from . import data as data_mod
from .checks import CHECKS, CheckFailed, Context, ReplayMiss, salted
from .results import ERROR, FAILED, PASSED, PLATFORM, STUDENT, ItemResult, SubmissionResult
from .rubric import PUBLIC, Item, Rubric
from .sandbox.client import PROJECT_ROOT, RemoteHandle, SandboxConfig
from .sandbox.errors import PlatformError, SandboxError, WorkerTimeout
from .sandbox.handle import LocalHandle
from .sandbox.in_process import InProcessHandle, worker_possible
from .sandbox.recording import ReplayHandle
from .sandbox.limits import Confinement

DATA_DIRS = ["/usr/share/datasets"]
MIN_ITEM_S = 2.0  # less of the submission's grading time left than this: the item is not started


def sandbox_config(rubric: Rubric, *, protected: list[str] | None = None, data_root=None,
                   drop_privileges: bool = True) -> SandboxConfig:
    hidden = [PROJECT_ROOT, *DATA_DIRS, *(protected or [])]
    if data_root:
        hidden.append(str(Path(data_root).resolve()))
    spec = rubric.sandbox
    # The worker may live through every item: its CPU budget is the whole rubric's time, plus import.
    wall = min(sum(i.timeout_s for i in rubric.items), rubric.budget_s)
    cpu_budget = int(wall + spec.import_timeout_s) + 10
    return SandboxConfig(
        confinement=Confinement(memory_mb=spec.memory_mb, protected_paths=hidden, cpu_seconds=cpu_budget),
        import_timeout_s=spec.import_timeout_s, max_message_mb=spec.max_message_mb,
        output_limit_kb=spec.output_limit_kb, preload=list(spec.preload),
        forbidden=list(spec.forbidden_imports), forbidden_rule=spec.forbidden_rule, allowed=spec.allowed_imports,
        drop_privileges=drop_privileges, torch=spec.framework == "torch")


def missing_framework(rubric: Rubric) -> str | None:
    """A PyTorch rubric on a machine without torch: the instructor's problem, said plainly (found
    without importing torch)."""
    if rubric.sandbox.framework == "torch" and importlib.util.find_spec("torch") is None:
        return (f"the {rubric.assignment!r} assignment needs PyTorch where the grader runs, and it is not "
                "installed: pip install torch (the CPU build: --index-url https://download.pytorch.org/whl/cpu)")
    return None


def missing_packages(rubric: Rubric, source: str) -> str | None:
    """A package the rubric allows and solution.py imports, missing where the grader runs: the
    platform's fault, not the student's (found without importing it)."""
    from .checks.imports import imports_in

    try:
        wanted = {name.split(".")[0] for name, _ in imports_in(source)}
    except (SyntaxError, ValueError):
        return None  # grading says what is wrong with the file
    missing = sorted(pip for name, pip in rubric.sandbox.packages
                     if name in wanted and importlib.util.find_spec(name) is None)
    if not missing:
        return None
    return (f"solution.py imports packages the {rubric.assignment!r} assignment allows but that are not installed "
            f"where the grader runs: {', '.join(missing)}. Install them there (pip install {' '.join(missing)}); on "
            "Gradescope, rebuild the autograder: its setup.sh installs the rubric's packages")


class LazyReference:
    """The reference module, imported in this process on first use only: the PyTorch assignments'
    checks compute their expectations in NumPy, so the grader never imports torch for them."""

    def __init__(self, path: Path, recording: Path | None = None):
        self.path, self.recording, self._handle = path, recording, None

    def __getattr__(self, name):
        if self._handle is None:
            if self.recording is not None and not self.path.is_file():  # the student kit
                self._handle = ReplayHandle(self.recording)
            else:
                self._handle = LocalHandle.from_file(self.path, "reference")
        return getattr(self._handle, name)


def _trim_output(text: str, dropped: int) -> str:
    if dropped:
        text += f"\n[... {dropped:,} more bytes of output not shown]"
    return text


class Grading:
    """One submission graded item by item against one sandboxed worker: what `run_rubric` and the
    pytest plugin share. Items run in the order given; each ends with a result, whatever happens."""

    def __init__(self, rubric: Rubric, solution: str | Path, *, data_root=None, protected: list[str] | None = None,
                 hidden_items_exist: bool = False, drop_privileges: bool = True, reference=None):
        self.rubric, self.data_root = rubric, data_root
        self.start = time.monotonic()
        self.solution = Path(solution)
        self.result = SubmissionResult(assignment=rubric.assignment, solution=str(self.solution), items=[],
                                       hidden_items_exist=hidden_items_exist)
        self.student = None
        self._split = None
        try:
            self.source = self.solution.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            self.source = None
            self.result.error = (f"{rubric.solution_file} could not be read at {self.solution} ({exc.strerror}). "
                                 f"Submit a file named {rubric.solution_file}.")
            self.result.error_by = STUDENT
            self.unavailable = (FAILED, self.result.error)
            return
        missing = missing_framework(rubric) or missing_packages(rubric, self.source)
        if missing:
            self.result.error, self.result.error_by = missing, PLATFORM
            self.unavailable = (ERROR, missing)
            return
        self.unavailable = None
        self.reference = reference or LazyReference(rubric.reference, rubric.recording)
        config = sandbox_config(rubric, protected=protected, data_root=data_root, drop_privileges=drop_privileges)
        handle = RemoteHandle if worker_possible() else InProcessHandle  # native Windows: a degraded self-check
        self.student = handle(self.solution, config)

    def _load_data(self):
        if self._split is None:
            spec = self.rubric.data
            self._split = data_mod.load_split(spec.dataset, train_size=spec.train_size, val_size=spec.val_size,
                                              seed=spec.seed, data_root=self.data_root)
        return self._split

    def run(self, item: Item) -> ItemResult:
        """Grades one item (after those it depends on, when they ran) and records its result."""
        if self.unavailable:
            status, message = self.unavailable
            item_result = _result(item, status, f"Not graded: {message}")
            self.result.items.append(item_result)
            return item_result
        student = self.student
        left = self.rubric.budget_s - (time.monotonic() - self.start)
        if left < MIN_ITEM_S:
            item_result = _result(item, FAILED, "Not graded: " + _budget_spent(self.rubric, self.result.items, item))
            self.result.items.append(item_result)
            return item_result
        item_result = _run_item(item, self.rubric, student, self.reference, self.source, self._load_data,
                                self.result.items, limit_s=min(item.timeout_s, left))
        events = list(dict.fromkeys(student.take_events()))
        if events:
            item_result.message += "\nDuring this item, solution.py " + "; ".join(events) + \
                ". The sandbox has no network and confines such attempts; the course staff can see them."
            self.result.notes += [f"{item.id}: solution.py {e}" for e in events]
        if "instructor_note" in item_result.details:
            self.result.notes.append(f"{item.id}: {item_result.details['instructor_note']}")
        text, dropped = student.take_output()
        item_result.output = _trim_output(text, dropped)
        self.result.items.append(item_result)
        if student.worker.alive:
            try:
                with student.time_limit(5):
                    student.reset()
            except SandboxError:
                pass
        return item_result

    def close(self) -> SubmissionResult:
        if self.student is not None:
            if self.student.import_failure is not None:
                self.result.import_error = self.student.import_failure.feedback()
            try:
                self.result.notes = list(dict.fromkeys(self.student.notes() + self.result.notes))
            finally:
                self.student.close()
                self.student = None
        self.result.duration_s = time.monotonic() - self.start
        return self.result


def run_rubric(rubric: Rubric, solution: str | Path, *, data_root=None, protected: list[str] | None = None,
               progress: Callable[[ItemResult], None] | None = None, hidden_items_exist: bool = False,
               drop_privileges: bool = True, reference=None) -> SubmissionResult:
    """reference: a handle to use instead of the rubric's reference (the kit builder's recorder)."""
    grading = Grading(rubric, solution, data_root=data_root, protected=protected,
                      hidden_items_exist=hidden_items_exist, drop_privileges=drop_privileges, reference=reference)
    try:
        for item in rubric.items:
            item_result = grading.run(item)
            if progress and not grading.unavailable:
                progress(item_result)
    finally:
        result = grading.close()
    return result


def _shown_to(item: Item, other) -> bool:
    """Whether `item`'s message may name `other` (an Item or ItemResult): never a less visible one."""
    return other.visibility in (PUBLIC, item.visibility)


def _budget_spent(rubric: Rubric, done: list[ItemResult], item: Item) -> str:
    slowest = sorted((r for r in done if r.duration_s >= 1), key=lambda r: -r.duration_s)
    named = [f"{r.id} {r.duration_s:.0f} s" for r in slowest if _shown_to(item, r)][:4]
    where = f" (the longest: {', '.join(named)})" if named else ""
    return (f"this submission used up its grading time of {rubric.budget_s:g} s before this item could "
            f"run{where}. Items that stop at their time limit (an infinite loop, or far too slow code) use it "
            "up: make them finish, and this item is graded too.")


def _result(item: Item, status: str, message: str, points: float = 0.0, **kw) -> ItemResult:
    return ItemResult(id=item.id, name=item.name, points=points, max_points=item.points, status=status,
                      message=message, visibility=item.visibility, **kw)


def _run_item(item: Item, rubric: Rubric, student: RemoteHandle, reference, source: str, load_data,
              done: list[ItemResult], limit_s: float) -> ItemResult:
    failed_deps = [r for r in done if r.id in item.depends_on and not r.passed]
    if failed_deps:
        named = [r for r in failed_deps if _shown_to(item, r)]
        reasons = "; ".join(f"{r.id}: {r.message.splitlines()[0]}" for r in named)
        what = [r.id for r in named] + (["a check not shown to students"] if len(named) < len(failed_deps) else [])
        return _result(item, FAILED, f"Not graded: it needs item(s) {', '.join(what)} to pass first"
                                     + (f" ({reasons})" if reasons else ""))
    ctx = Context(item_id=item.id, params=item.params, student=student, reference=reference,
                  data=load_data, solution_source=source, sandbox=rubric.sandbox, salt=rubric.salt)
    start = time.monotonic()
    try:
        with student.time_limit(limit_s), salted(rubric.salt):
            outcome = CHECKS[item.check].func(ctx)
        return _result(item, PASSED, outcome.message, item.points, details=outcome.details,
                       duration_s=time.monotonic() - start)
    except CheckFailed as exc:
        return _result(item, FAILED, exc.message, details=exc.details, duration_s=time.monotonic() - start)
    except ReplayMiss as exc:
        return _result(item, ERROR, "Not checked here: this item compares with the reference on inputs the "
                       f"student kit does not hold ({exc}). Your code took another path than the kit recorded, "
                       "often after an earlier error: fix the other items first. Gradescope checks this item in "
                       "full.", duration_s=time.monotonic() - start)
    except PlatformError as exc:  # not the student's doing: the autograder could not judge this item
        return _result(item, ERROR, exc.feedback(), details={"instructor_note": exc.note},
                       duration_s=time.monotonic() - start)
    except SandboxError as exc:
        message = exc.feedback()
        if isinstance(exc, WorkerTimeout) and limit_s < item.timeout_s:
            message += (f"\nThis item had {limit_s:.0f} s of its {item.timeout_s:g} s: the submission's grading time "
                        f"of {rubric.budget_s:g} s was nearly used up by the items before it.")
        return _result(item, FAILED, message, duration_s=time.monotonic() - start)
    except data_mod.DataNotFound as exc:
        return _result(item, ERROR, f"The grader could not run this item: {exc}",
                       duration_s=time.monotonic() - start)
    except Exception as exc:  # a bug in the grader: the student keeps nothing, the instructor sees why
        tb = traceback.format_exc(limit=-4)
        return _result(item, ERROR, f"Internal grader error in check {item.check!r} ({type(exc).__name__}: "
                       f"{exc}); please report it to the course staff.", details={"traceback": tb},
                       duration_s=time.monotonic() - start)
