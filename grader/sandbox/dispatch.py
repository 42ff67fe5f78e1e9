"""Executes requests against a loaded solution module: the worker's heart, also used in-process.

Requests are dicts (after decoding):
    {"op": "new",  "cls": "NN", "args": [...], "kwargs": {...}}           -> Ref
    {"op": "new",  "cls": "NN", "attrs": {...}}    -> Ref, built without __init__, attributes set
    {"op": "call", "target": Ref | None, "name": "forward", "args", "kwargs"} -> value
    {"op": "get",  "target": Ref | None, "name": "weights"}                 -> value
    {"op": "set",  "target": Ref, "name": "weights", "value": v, "key": k | None}
    {"op": "put",  "value": ndarray, "dtype": "float32", "scale": 1/255}   -> Ref (array kept here)
    {"op": "rng",  "seed": 0}                      -> Ref to np.random.default_rng(seed), made here
    {"op": "fetch", "target": Ref}                 -> the object itself (e.g. an array stored by put)
    {"op": "events"}                               -> what the audit hook saw since the last call
    {"op": "reset"}                                                        -> drops every Ref
Extensions (torch_bridge.operations for PyTorch assignments) add ops of their own.
Responses: {"ok": value} or {"error": {"where", "type", "message", "traceback"}}.
"""
from __future__ import annotations

import numpy as np

from .errors import describe_exception
from .protocol import Ref


class Dispatcher:
    def __init__(self, module, solution_file: str, events: list | None = None, *, to_wire=None,
                 extensions=None):
        self.module = module
        self.events = events if events is not None else []
        self.solution_file = solution_file
        self.objects: dict[int, object] = {}
        self._next_id = 1
        self.to_wire = to_wire                      # e.g. torch tensor -> protocol.Tensor
        self.extensions = extensions(self) if extensions else {}

    def store(self, obj) -> Ref:
        """Keeps `obj` here and returns the handle the grader will use for it."""
        ref = Ref(self._next_id, type(obj).__name__)
        self.objects[ref.id] = obj
        self._next_id += 1
        return ref

    def register(self, obj):
        """The encoder's hook for a value that is not plain data: converted where it can be, else kept."""
        if self.to_wire is not None:
            wire = self.to_wire(obj)
            if wire is not None:
                return wire
        return self.store(obj)

    def resolve(self, value):
        return self._resolve(value)

    def _resolve(self, value):
        if isinstance(value, Ref):
            if value.id not in self.objects:
                raise LookupError(f"object {value.type}#{value.id} no longer exists (the worker was restarted)")
            return self.objects[value.id]
        if isinstance(value, list):
            return [self._resolve(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self._resolve(v) for v in value)
        if isinstance(value, dict):
            return {k: self._resolve(v) for k, v in value.items()}
        return value

    def _target(self, request):
        target = request.get("target")
        return self.module if target is None else self._resolve(target)

    def handle(self, request: dict) -> dict:
        op = request.get("op")
        try:
            if op == "reset":
                self.objects.clear()
                return {"ok": None}
            if op == "events":
                seen = [str(e) for e in self.events]
                self.events.clear()
                return {"ok": seen}
            if op == "rng":
                return {"ok": self.store(np.random.default_rng(int(request["seed"])))}
            if op == "put":
                array = np.array(request["value"], dtype=request.get("dtype") or None)
                if request.get("scale") is not None:
                    array *= request["scale"]
                return {"ok": self.store(array)}
        except Exception as exc:  # malformed put from the grader itself
            return {"error": {"where": "grader", "type": type(exc).__name__, "message": str(exc),
                              "traceback": ""}}
        where = describe_call(request)
        try:
            if op == "new":
                cls = getattr(self.module, request["cls"])
                if request.get("attrs") is not None:
                    obj = cls.__new__(cls)
                    for name, value in self._resolve(request["attrs"]).items():
                        setattr(obj, name, value)
                    return {"ok": obj}
                return {"ok": cls(*self._resolve(request.get("args", [])),
                                  **self._resolve(request.get("kwargs", {})))}
            if op == "call":
                fn = getattr(self._target(request), request["name"])
                return {"ok": fn(*self._resolve(request.get("args", [])),
                                 **self._resolve(request.get("kwargs", {})))}
            if op == "get":
                return {"ok": getattr(self._target(request), request["name"])}
            if op == "fetch":
                return {"ok": self._target(request)}
            if op == "set":
                obj = self._target(request)
                value = self._resolve(request["value"])
                if request.get("key") is None:
                    setattr(obj, request["name"], value)
                else:
                    getattr(obj, request["name"])[request["key"]] = value
                return {"ok": None}
            if op in self.extensions:
                return {"ok": self.extensions[op](request)}
            raise ValueError(f"unknown op {op!r}")
        except BaseException as exc:  # noqa: B036 - sys.exit in student code is a student error
            if isinstance(exc, AttributeError) and op in ("call", "get", "new", "watch"):
                return {"error": describe_missing(exc, where, self.solution_file)}
            return {"error": describe_exception(exc, self.solution_file, where)}


def describe_call(request: dict) -> str:
    """What a request calls, for messages: "NN.forward", "NN(...)", "solution.count_parameters"."""
    op = request.get("op")
    if op == "new":
        return f"{request.get('cls')}(...)"
    if op in ("call", "get", "set", "watch"):
        target = request.get("target")
        owner = target.type if isinstance(target, Ref) else "solution"
        return f"{owner}.{request.get('name')}"
    return f"the grader's {op!r} request"


def describe_missing(exc: AttributeError, where: str, solution_file: str) -> dict:
    """An AttributeError on the requested name itself means the student did not define it."""
    fields = describe_exception(exc, solution_file, where)
    if not fields["traceback"]:
        name = where.split(".")[-1].removesuffix("(...)")
        fields["type"] = "MissingName"
        fields["message"] = f"{name!r} is not defined in solution.py (or not as the API says)"
    return fields
