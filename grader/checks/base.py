"""What every check kind shares: its declared parameters, the context it receives, its verdict, and
the hypothesis search that finds the smallest failing example deterministically.

A check is a function `check(ctx) -> Passed` that raises `CheckFailed` (or lets a `SandboxError`
from the student's code propagate). It talks to the student's module only through `ctx.student`,
a handle, and never starts a process itself.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import example as hypothesis_example
from hypothesis import reject
from hypothesis import strategies as st
from hypothesis.errors import Flaky, HypothesisException

from ..sandbox.errors import SandboxError, StudentError, WorkerDied, WorkerProtocolError, WorkerTimeout

REQUIRED = object()


class ParamError(Exception):
    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name, self.message = name, message


@dataclass(frozen=True)
class Param:
    type: type | tuple
    default: Any = REQUIRED
    choices: tuple | None = None
    help: str = ""


@dataclass(frozen=True)
class CheckKind:
    name: str
    func: Callable
    params: dict[str, Param]
    needs_data: bool = False
    doc: str = ""

    def validate(self, raw: dict) -> dict:
        out = {}
        for key in raw:
            if key not in self.params:
                allowed = ", ".join(sorted(self.params)) or "none"
                raise ParamError(key, f"unknown parameter for check {self.name!r} (allowed: {allowed})")
        for key, spec in self.params.items():
            if key not in raw:
                if spec.default is REQUIRED:
                    raise ParamError(key, f"is required by check {self.name!r}: {spec.help}")
                out[key] = spec.default
                continue
            value = raw[key]
            types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
            if float in types and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                names = " or ".join(t.__name__ for t in types)
                raise ParamError(key, f"must be {names}, got {value!r}")
            if spec.choices is not None:
                values = value if isinstance(value, list) else [value]
                for v in values:
                    if v not in spec.choices:
                        raise ParamError(key, f"{v!r} is not one of {', '.join(map(repr, spec.choices))}")
            out[key] = value
        return out


CHECKS: dict[str, CheckKind] = {}


def check(kind: str, /, *, needs_data: bool = False, **params: Param):
    """Registers a check kind under `kind`, with the parameters a rubric item may set."""
    def register(func):
        CHECKS[kind] = CheckKind(kind, func, params, needs_data, (func.__doc__ or "").strip())
        return func
    return register


class CheckFailed(Exception):
    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.message, self.details = message, details or {}


@dataclass
class Passed:
    message: str
    details: dict = field(default_factory=dict)


@dataclass
class Context:
    """What a check receives. `student` and `reference` are handles (sandbox/handle.py)."""
    item_id: str
    params: dict
    student: Any
    reference: Any
    data: Callable[[], Any] | None = None     # lazily loads the rubric's data split
    solution_source: str | None = None
    sandbox: Any = None                       # the rubric's SandboxSpec
    salt: int = 0                             # the rubric's: another salt, other inputs (see search)

    @property
    def seed(self) -> int:
        """A seed of the item's own, stable across runs and machines (and salts)."""
        key = self.item_id if not self.salt else f"{self.item_id}:{self.salt}"
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")

    def time_limit(self, seconds: float):
        """A tighter deadline for the student's calls inside the block, where the handle has deadlines."""
        limit = getattr(self.student, "time_limit", None)
        return limit(seconds) if limit else contextlib.nullcontext()


FATAL = (WorkerTimeout, WorkerDied, WorkerProtocolError)
# The rubric's salt for the item being graded. 0 (the student kit, and rubrics without one): the
# examples depend on the check alone, as in `grader check` everywhere. Another salt (the Gradescope
# autograder's, drawn when the zip is built) draws other, equally deterministic examples, so answers
# copied from a kit's data do not carry over to grading.
SALT: contextvars.ContextVar[int] = contextvars.ContextVar("grader_salt", default=0)
BASE_SEED = 20261122  # the examples' seed without a salt


class ReplayMiss(Exception):
    """A recorded reference (the student kit's) has no answer for this request: another input than
    the kit recorded. Inside `search` the example is skipped; elsewhere the item cannot be checked."""


@contextlib.contextmanager
def salted(salt: int):
    token = SALT.set(int(salt))
    try:
        yield
    finally:
        SALT.reset(token)


def describe_example(example: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in example.items() if not k.startswith("_"))


def search(strategy: st.SearchStrategy, test: Callable[[dict], None], *, examples: int,
           shrink_budget: int = 40, explicit: tuple = ()) -> None:
    """Runs `test` on `examples` examples drawn from `strategy` (dicts), derandomised, with no example
    database. On failure raises CheckFailed for the smallest failing example found, naming it.

    Shrinking is bounded by a count of calls, never by time, so verdicts and messages are the same
    on every run. A timeout or a crash of the worker stops the search at once and is reported with
    the example that caused it.
    """
    failures: dict[str, BaseException] = {}
    state = {"calls_after_failure": 0, "fatal": None, "replay_misses": 0}

    def key(example: dict) -> str:
        return repr(sorted(example.items()))

    def run(example: dict) -> None:
        k = key(example)
        if k in failures:
            raise failures[k]
        if state["fatal"] is not None:
            return
        if failures:
            state["calls_after_failure"] += 1
            if state["calls_after_failure"] > shrink_budget:
                return
        try:
            test(example)
        except ReplayMiss:
            state["replay_misses"] += 1
            reject()
        except FATAL as exc:
            state["fatal"] = (exc, example)
            return
        except (CheckFailed, SandboxError) as exc:
            exc.example = example
            failures[k] = exc
            raise

    salt = SALT.get()
    given_run = given(strategy)(run)
    for case in reversed(explicit):  # tried first, in order
        given_run = hypothesis_example(case)(given_run)
    # An explicit seed, not derandomize=True: that one hashes the source of `run`, so any edit of this
    # function would change every example drawn (and could let a known bug slip past a check).
    wrapped = seed(salt or BASE_SEED)(settings(
        max_examples=examples, derandomize=False, database=None, deadline=None,
        suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
        phases=(Phase.explicit, Phase.generate, Phase.shrink), print_blob=False,
        report_multiple_bugs=False)(given_run))
    try:
        wrapped()
    except (CheckFailed, SandboxError) as exc:
        raise _with_example(exc) from None
    except Flaky:
        if failures:
            raise _with_example(next(iter(failures.values()))) from None
        raise
    except HypothesisException as exc:
        if state["replay_misses"]:
            raise ReplayMiss(f"none of the {state['replay_misses']} inputs tried is in the kit's data") from None
        if state["fatal"] is None:
            raise CheckFailed(f"the grader could not draw valid examples for this item ({exc})") from None
    if state["fatal"] is not None:
        exc, example = state["fatal"]
        exc.args = (f"{exc}\nExample: {describe_example(example)}",)
        raise exc


def _with_example(exc: BaseException) -> BaseException:
    example = getattr(exc, "example", None)
    if example is None:
        return exc
    label = f"Smallest failing example: {describe_example(example)}"
    if isinstance(exc, CheckFailed):
        return CheckFailed(f"{exc.message}\n{label}", exc.details)
    if isinstance(exc, StudentError):
        if exc.type == "NotImplementedError":
            return exc
        err = StudentError(exc.where, exc.type, exc.message, exc.traceback)
        err.context = label
        return err
    return exc
