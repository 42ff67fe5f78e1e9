"""solution.py in the grader's own process, where the worker cannot run: native Windows has no POSIX
pipes to reach it (see client.py). A degraded student self-check, never grading: no sandbox, no
memory or CPU limits, no privilege drop. A call past its time limit is interrupted in its thread (a
Python loop ends there; a stuck C call only when it returns), its result is dropped, and the next call
loads solution.py afresh.
The import policy, the checks, the verdicts and the messages are the worker's."""
from __future__ import annotations

import ctypes
import io
import os
import sys
import threading
import time
from pathlib import Path

from .dispatch import Dispatcher, describe_call
from .errors import ImportFailed, WorkerTimeout, describe_exception
from .handle import TimeLimited, _roundtrip, load_module
from .import_policy import STUDENT_MODULE, ImportPolicy, drop_stand_ins

NOTE = ("solution.py ran in the grader's own process (native Windows: the sandbox's worker needs POSIX "
        "pipes): no sandbox and no memory limit. Use WSL for the full self-check; grading always runs in the "
        "sandbox.")


class _ThreadRouted(io.TextIOBase):
    """sys.stdout and sys.stderr while solution.py runs in threads: what a student's thread writes goes
    to its handle's capture, everything else where it went before."""

    def __init__(self):
        self.routes: dict[int, io.StringIO] = {}
        self.originals: dict[str, object] = {}

    def install(self) -> None:
        for name in ("stdout", "stderr"):
            if not isinstance(getattr(sys, name), _Stream):
                self.originals[name] = getattr(sys, name)
                setattr(sys, name, _Stream(self, name))


class _Stream(io.TextIOBase):
    def __init__(self, router: _ThreadRouted, name: str):
        self.router, self.name = router, name

    def write(self, text: str) -> int:
        target = self.router.routes.get(threading.get_ident()) or self.router.originals[self.name]
        return target.write(text)

    def flush(self) -> None:
        if threading.get_ident() not in self.router.routes:
            self.router.originals[self.name].flush()


_ROUTED = _ThreadRouted()


class _Stopped(BaseException):
    """Raised inside a call that ran past its time limit."""


def _stop(thread: threading.Thread) -> None:
    """Raises _Stopped in `thread` at its next Python instruction: a Python loop ends there (code stuck
    inside a C call ends only when that call returns)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_Stopped))


class _Running:
    alive = True  # the runner resets the module after each item, as it does a live worker


class InProcessHandle(TimeLimited):
    label = "solution"

    def __init__(self, solution: str | Path, config):
        self.solution, self.config = Path(solution), config
        self.deadline, self.limit_s = time.monotonic() + 3600, 3600.0
        self.import_failure: ImportFailed | None = None
        self.worker = _Running()
        self.starts = 0
        self._dispatcher: Dispatcher | None = None
        self._output = io.StringIO()
        self._policy = (ImportPolicy(config.allowed, config.forbidden, config.forbidden_rule)
                        if config.allowed is not None or config.forbidden else None)

    def _run(self, fn, where: str):
        """fn() in a thread, waited for until the deadline."""
        outcome = {}

        def target():
            _ROUTED.routes[threading.get_ident()] = self._output  # this thread's prints are the student's
            try:
                outcome["value"] = fn()
            except BaseException as exc:  # noqa: B036 - the student's code may raise anything
                outcome["error"] = exc
            finally:
                _ROUTED.routes.pop(threading.get_ident(), None)
                drop_stand_ins()  # the grader's own code (hypothesis) looks modules up in sys.modules

        thread = threading.Thread(target=target, daemon=True, name=f"solution.py: {where}")
        thread.start()
        thread.join(max(0.0, self.deadline - time.monotonic()))
        if thread.is_alive():
            _stop(thread)
            self._dispatcher = None  # the late call keeps the old module: the next call gets a fresh one
            raise WorkerTimeout(where, self.limit_s)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    def ensure_started(self) -> None:
        if self.import_failure:
            raise self.import_failure
        _ROUTED.install()
        if self._policy is not None and self._policy not in sys.meta_path:
            sys.meta_path.insert(0, self._policy)  # judges solution.py's own imports only
        if self._dispatcher is None:
            self.starts += 1
            try:
                module = self._run(lambda: load_module(self.solution, STUDENT_MODULE), "importing solution.py")
            except WorkerTimeout:
                self.import_failure = ImportFailed(
                    f"importing solution.py took longer than {self.limit_s:g} s (code at module level that loops "
                    "or trains? keep it under `if __name__ == \"__main__\":`)")
                raise self.import_failure from None
            except BaseException as exc:  # noqa: B036 - a SystemExit at import is the student's error
                e = describe_exception(exc, str(self.solution), "importing solution.py")
                text = f"solution.py could not be imported: {e['type']}: {e['message']}"
                self.import_failure = ImportFailed(text + (f"\n{e['traceback']}" if e["traceback"] else ""))
                raise self.import_failure from None
            if self.config.torch:
                from . import torch_bridge
                self._dispatcher = Dispatcher(module, str(self.solution), to_wire=torch_bridge.from_torch,
                                              extensions=torch_bridge.operations)
            else:
                self._dispatcher = Dispatcher(module, str(self.solution))

    def _exchange(self, message: dict) -> dict:
        self.ensure_started()
        dispatcher = self._dispatcher
        tensor = None
        if self.config.torch:
            from . import torch_bridge
            tensor = torch_bridge.to_torch
        request = _roundtrip(message, tensor=tensor)
        response = self._run(lambda: dispatcher.handle(request), describe_call(message))
        return _roundtrip(response, register=dispatcher.register)

    def take_events(self) -> list[str]:
        return []

    def take_output(self) -> tuple[str, int]:
        text, self._output = self._output.getvalue(), io.StringIO()
        return text, 0

    def notes(self) -> list[str]:
        return [NOTE]

    def close(self) -> None:
        self._dispatcher = None
        if self._policy in sys.meta_path:
            sys.meta_path.remove(self._policy)


def worker_possible() -> bool:
    """Whether solution.py can run in the sandbox's worker here (GRADER_IN_PROCESS=1 says no: tests)."""
    return os.name == "posix" and os.environ.get("GRADER_IN_PROCESS", "") in ("", "0")
