"""Check kinds, one module per family; each registers itself in `CHECKS` by name.

A rubric item names its kind (`check: mlp_backward`) and sets its parameters (`params:`), which
the kind declares and validates before anything runs.
"""
from .base import (CHECKS, CheckFailed, CheckKind, Context, Param, ParamError, Passed, ReplayMiss, check, salted,
                   search)
from . import (backprop, gradients, imports, init, layers, optim, parameters, stateful,  # noqa: F401
               torch_models, torch_training, training, values)

__all__ = ["CHECKS", "CheckFailed", "CheckKind", "Context", "Param", "ParamError", "Passed", "ReplayMiss", "check",
           "salted", "search"]
