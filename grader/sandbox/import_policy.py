"""What solution.py may import, enforced in the worker the same way wherever it grades (a laptop that
has every package, Gradescope's image that has only what setup.sh installed):

- the standard library, the assignment's framework (numpy; torch for PyTorch rubrics) and the
  packages the rubric allows (`sandbox.packages`): imported as usual;
- a forbidden package (`sandbox.forbidden_imports`): the import succeeds but gives a stand-in that
  fails when used, saying why. An unused `import torch` then costs only the items that depend on the
  rule (the static `forbidden_imports` check fails them), not the whole submission;
- any other package: the import fails with a message that names it, its line, and what to do.

Only imports that solution.py itself makes are judged: numpy or matplotlib importing their own
dependencies is not the student's doing.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types

STUDENT_MODULE = "solution"


def top_level(name: str) -> str:
    return name.split(".")[0]


def not_allowed_message(name: str, line: int | None) -> str:
    where = f" (line {line})" if line else ""
    return (f"solution.py imports {name}{where}, which the autograder does not have: remove the import of "
            f"{name}, or ask the course staff to allow it")


def not_installed_message(name: str, line: int | None) -> str:
    where = f" (line {line})" if line else ""
    return (f"solution.py imports {name}{where}, which the assignment allows but which is not installed where "
            f"this grader runs: install it there (on Gradescope, setup.sh installs the rubric's packages)")


def forbidden_message(name: str, rule: str) -> str:
    return (f"{name} is not allowed in this assignment ({rule}): solution.py may import it, but not use it; "
            "the items that depend on this rule are lost")


class _Unusable:
    """What a forbidden module's attributes are: anything done with them raises ImportError."""

    def __init__(self, message: str):
        object.__setattr__(self, "_message", message)

    def _fail(self, *args, **kwargs):
        raise ImportError(object.__getattribute__(self, "_message"))

    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return self

    __call__ = __mro_entries__ = __iter__ = __getitem__ = __len__ = __bool__ = __array__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __matmul__ = __rmatmul__ = _fail
    __truediv__ = __rtruediv__ = __pow__ = __neg__ = __float__ = __int__ = _fail


class _ForbiddenLoader(importlib.abc.Loader):
    def __init__(self, message: str):
        self.message = message

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__getattr__ = lambda attr: _Unusable(self.message)  # PEP 562
        module.__path__ = []  # a package: `import torch.nn` gives a stand-in too
        return module

    def exec_module(self, module):
        pass


def _importer() -> tuple[str, int | None]:
    """The module whose code asked for the import (past importlib's own frames), and the line."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not (name.startswith("importlib") or name == __name__):
            return name, frame.f_lineno
        frame = frame.f_back
    return "", None


class ImportPolicy(importlib.abc.MetaPathFinder):
    """A meta path finder placed first: it only refuses or stands in, and otherwise lets the usual
    finders find the module."""

    def __init__(self, allowed: list[str] | None, forbidden: list[str], rule: str):
        """allowed: the third-party packages solution.py may import; None: any."""
        self.allowed = None if allowed is None else set(allowed) | set(sys.stdlib_module_names) | {STUDENT_MODULE}
        self.forbidden, self.rule = set(forbidden), rule

    def find_spec(self, name, path=None, target=None):
        top = top_level(name)
        if top not in self.forbidden and (self.allowed is None or top in self.allowed):
            if path is None and self.allowed is not None and importlib.machinery.PathFinder.find_spec(name) is None:
                importer, line = _importer()
                if top_level(importer) == STUDENT_MODULE and top not in sys.builtin_module_names:
                    raise ModuleNotFoundError(not_installed_message(top, line), name=name)
            return None
        importer, line = _importer()
        by_student = top_level(importer) == STUDENT_MODULE
        if top in self.forbidden:
            if not by_student:  # a library probing for it: as if it were not installed
                raise ImportError(f"importing {name!r} is not allowed here: {self.rule}")
            return importlib.machinery.ModuleSpec(name, _ForbiddenLoader(forbidden_message(top, self.rule)),
                                                  is_package=True)
        if by_student:
            raise ModuleNotFoundError(not_allowed_message(top, line), name=name)
        return None


def drop_stand_ins() -> None:
    """Takes the forbidden modules' stand-ins out of sys.modules (solution.py keeps its own reference),
    where code other than solution.py shares the process and may look a module up there."""
    for name, module in list(sys.modules.items()):
        if isinstance(getattr(getattr(module, "__spec__", None), "loader", None), _ForbiddenLoader):
            del sys.modules[name]
