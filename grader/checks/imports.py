"""Forbidden imports, read from the source (the worker also refuses them at run time)."""
from __future__ import annotations

import ast
import sys

from ..sandbox.import_policy import STUDENT_MODULE, not_allowed_message, top_level
from .base import CheckFailed, Param, Passed, check

_DYNAMIC = {"__import__", "import_module", "find_spec", "load_module", "spec_from_file_location"}


def imports_in(source: str) -> list[tuple[str, int]]:
    """Every absolute import of `source` (statically, or by a literal name), with its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Call):
            func = node.func
            fname = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if fname in _DYNAMIC:
                names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        found += [(name, node.lineno) for name in names]
    return sorted(found, key=lambda pair: pair[1])


def forbidden_imports_in(source: str, modules: list[str]) -> list[str]:
    """The lines of `source` that import one of `modules`."""
    return [f"line {line}: {name}" for name, line in imports_in(source) if top_level(name) in set(modules)]


def unavailable_imports_in(source: str, allowed: list[str], forbidden: list[str] = ()) -> list[str]:
    """What the autograder will refuse (sandbox/import_policy.py), said from the source at once: the
    imports of packages neither in the standard library nor allowed by the rubric (forbidden ones have
    their own item)."""
    known = set(allowed) | set(forbidden) | set(sys.stdlib_module_names) | {STUDENT_MODULE}
    seen = {}
    for name, line in imports_in(source):
        if top_level(name) not in known:
            seen.setdefault(top_level(name), line)
    return [not_allowed_message(name, line) for name, line in seen.items()]


@check("forbidden_imports",
       modules=Param(list, ["torch", "tensorflow", "jax", "autograd", "keras", "sklearn", "mxnet", "chainer"]),
       rule=Param(str, "this assignment is NumPy only"))
def forbidden_imports(ctx):
    """No import of a forbidden package anywhere in solution.py."""
    if ctx.solution_source is None:
        raise CheckFailed("solution.py could not be read")
    try:
        found = forbidden_imports_in(ctx.solution_source, ctx.params["modules"])
    except SyntaxError as exc:
        raise CheckFailed(f"solution.py has a SyntaxError at line {exc.lineno} ({exc.msg}), so its imports "
                          "cannot be read") from None
    if found:
        raise CheckFailed(f"solution.py imports forbidden packages ({ctx.params['rule']}): " + "; ".join(found))
    return Passed(f"no import of {', '.join(ctx.params['modules'])}")
