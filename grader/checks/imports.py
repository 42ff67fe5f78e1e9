"""Forbidden imports, read from the source (the worker also refuses them at run time)."""
from __future__ import annotations

import ast

from .base import CheckFailed, Param, Passed, check

_DYNAMIC = {"__import__", "import_module", "find_spec", "load_module", "spec_from_file_location"}


def forbidden_imports_in(source: str, modules: list[str]) -> list[str]:
    """The lines of `source` that import one of `modules` (statically, or by a literal name)."""
    tree = ast.parse(source)
    forbidden = set(modules)
    found = []
    for node in ast.walk(tree):
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
        for name in names:
            if name.split(".")[0] in forbidden:
                found.append(f"line {node.lineno}: {name}")
    return found


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
