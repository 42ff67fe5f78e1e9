"""What can go wrong when the grader talks to a student's code, as exceptions the checks can catch."""
from __future__ import annotations

import traceback
from pathlib import Path


class SandboxError(Exception):
    """Base class: something the student's code did that ends the current call."""

    def feedback(self) -> str:
        return str(self)


class StudentError(SandboxError):
    """The student's code raised an exception; `where` is e.g. "NN.backward"."""

    def __init__(self, where: str, type: str, message: str, traceback: str = ""):
        super().__init__(f"{where} raised {type}: {message}")
        self.where, self.type, self.message, self.traceback = where, type, message, traceback

    def feedback(self) -> str:
        text = f"{self.where} raised {self.type}"
        if self.message:
            text += f": {self.message}"
        if self.type == "NotImplementedError":
            text = f"{self.where} is not implemented yet (it raised NotImplementedError)"
        memory_mb = getattr(self, "memory_mb", None)
        if self.type == "MemoryError" and memory_mb:
            text = (f"{self.where} used more than {memory_mb:,} MB, the memory this item has, and raised "
                    f"MemoryError" + (f": {self.memory_context}" if getattr(self, "memory_context", "") else "")
                    + f"\n{self.message}")
        if self.traceback:
            text += "\n" + self.traceback
        if getattr(self, "context", ""):
            text += "\n" + self.context
        return text


class WorkerTimeout(SandboxError):
    """A call ran past its deadline; the worker was killed."""

    def __init__(self, where: str, seconds: float):
        super().__init__(f"{where} did not return within the item's time limit of {seconds:g} s "
                         "(an infinite loop, or far too slow); the grader stopped it")
        self.where, self.seconds = where, seconds


class PlatformError(SandboxError):
    """Not the student's doing: the container ran out of memory, or the worker failed while the grader
    itself was sending data. The item ends as an error of the autograder; `note` tells the instructor
    the cause and the setting to change."""

    def __init__(self, message: str, note: str):
        super().__init__(message)
        self.note = note


class WorkerDied(SandboxError):
    """The worker process ended during a call (os._exit, a crash in C code, a signal, a limit)."""


class ImportFailed(SandboxError):
    """solution.py could not be imported; every item that needs it fails with this message."""


class WorkerProtocolError(SandboxError):
    """The worker sent something that is not a valid message."""


def student_traceback(exc: BaseException, solution_file: str, limit: int = 6) -> str:
    """The frames of `exc`'s traceback that lie in the student's file, innermost last."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if Path(f.filename).name == Path(solution_file).name
              and Path(f.filename).resolve() == Path(solution_file).resolve()]
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return f'  File "{Path(exc.filename).name}", line {exc.lineno}\n    {(exc.text or "").strip()}'
    lines = []
    for f in frames[-limit:]:
        lines.append(f'  File "{Path(f.filename).name}", line {f.lineno}, in {f.name}')
        if f.line:
            lines.append(f"    {f.line.strip()}")
    return "\n".join(lines)


def describe_exception(exc: BaseException, solution_file: str, where: str) -> dict:
    """exc raised by student code -> the error fields sent to the grader."""
    message = str(exc)
    if isinstance(exc, SystemExit):
        message = f"the code called sys.exit({exc.code!r}), which the grader does not allow"
    elif isinstance(exc, MemoryError):
        message = (message + " " if message else "") + "(the sandbox ran out of its memory limit)"
    return {"where": where, "type": type(exc).__name__, "message": message[:2000],
            "traceback": student_traceback(exc, solution_file)}
