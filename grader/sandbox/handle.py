"""A handle on a solution module: what the checks receive, whether the module runs in the worker
(`client.RemoteHandle`) or in this process (`LocalHandle`: the trusted reference, and unit tests).

Both behave the same: every value crosses by copy through the protocol's encoding, objects that
cannot cross stay where they live and come back as `Obj` handles, and student exceptions come
back as `StudentError`.
"""
from __future__ import annotations

import contextlib
import importlib.util
import sys
import time
from pathlib import Path

from . import protocol
from .dispatch import Dispatcher
from .errors import StudentError

LOCAL_MAX_BYTES = 2**40


class Obj:
    """An object that lives on the handle's side, e.g. the student's `NN` instance."""

    def __init__(self, handle: "Handle", ref: protocol.Ref | None):
        self.handle, self.ref = handle, ref

    @property
    def type(self) -> str:
        return "module" if self.ref is None else self.ref.type

    def call(self, name: str, *args, **kwargs):
        return self.handle.request({"op": "call", "target": self.ref, "name": name,
                                    "args": list(args), "kwargs": kwargs})

    def get(self, name: str):
        return self.handle.request({"op": "get", "target": self.ref, "name": name})

    def set(self, name: str, value, key=None) -> None:
        self.handle.request({"op": "set", "target": self.ref, "name": name, "value": value, "key": key})

    def __repr__(self) -> str:
        return f"<{self.type} in {type(self.handle).__name__}>"


class Handle:
    """Subclasses implement `_exchange(message) -> response dict`."""

    label = "solution"

    @property
    def module(self) -> Obj:
        return Obj(self, None)

    def new(self, cls: str, *args, **kwargs) -> Obj:
        return self.request({"op": "new", "cls": cls, "args": list(args), "kwargs": kwargs})

    def new_bare(self, cls: str, **attrs) -> Obj:
        """An instance of `cls` created without running its __init__, with the given attributes."""
        return self.request({"op": "new", "cls": cls, "attrs": attrs})

    def put(self, array, *, dtype: str | None = None, scale: float | None = None) -> Obj:
        """Stores an array on the handle's side (converted there) and returns a handle to pass as argument."""
        return self.request({"op": "put", "value": array, "dtype": dtype, "scale": scale})

    def rng(self, seed: int) -> Obj:
        """A numpy Generator made on the handle's side (generators cannot cross)."""
        return self.request({"op": "rng", "seed": int(seed)})

    def fetch(self, obj: Obj):
        """The current value of an object stored on the handle's side (an array stored by put)."""
        return self.request({"op": "fetch", "target": obj.ref})

    def reset(self) -> None:
        self.request({"op": "reset"})

    def op(self, operation: str, /, **fields):
        """An operation of an extension (torch_bridge.py for PyTorch assignments)."""
        return self.request({"op": operation, **fields})

    def request(self, message: dict):
        response = self._exchange(_unwrap(message))
        if "error" in response:
            e = response["error"]
            raise StudentError(e.get("where", "?"), e.get("type", "Error"), e.get("message", ""),
                               e.get("traceback", ""))
        return _wrap(self, response["ok"])

    def _exchange(self, message: dict) -> dict:
        raise NotImplementedError


class TimeLimited(Handle):
    """A handle on the student's code: every call inside a `time_limit` block has the block's deadline."""

    deadline: float = float("inf")
    limit_s: float = 3600.0

    @contextlib.contextmanager
    def time_limit(self, seconds: float):
        """Sets the deadline of every call inside the block (the item's time limit)."""
        saved = (self.deadline, self.limit_s)
        self.deadline = min(self.deadline, time.monotonic() + seconds)
        self.limit_s = min(self.limit_s, seconds)
        try:
            yield
        finally:
            self.deadline, self.limit_s = saved


def _unwrap(value):
    if isinstance(value, Obj):
        return value.ref
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _wrap(handle, value):
    if isinstance(value, protocol.Ref):
        return Obj(handle, value)
    if isinstance(value, list):
        return [_wrap(handle, v) for v in value]
    if isinstance(value, tuple):
        return tuple(_wrap(handle, v) for v in value)
    if isinstance(value, dict):
        return {k: _wrap(handle, v) for k, v in value.items()}
    return value


def load_module(path: str | Path, name: str):
    """Imports the file at `path` as a fresh module called `name` (not kept in sys.modules)."""
    path = Path(path).resolve()
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


class LocalHandle(Handle):
    """Runs a module in this process, with the same copy semantics as the worker."""

    def __init__(self, module, solution_file: str | Path, label: str = "reference", *, torch: bool = False):
        self.tensor = None
        if torch:  # tests only: the grader itself never imports torch
            from . import torch_bridge
            self.tensor = torch_bridge.to_torch
            self.dispatcher = Dispatcher(module, str(solution_file), to_wire=torch_bridge.from_torch,
                                         extensions=torch_bridge.operations)
        else:
            self.dispatcher = Dispatcher(module, str(solution_file))
        self.label = label

    @classmethod
    def from_file(cls, path: str | Path, label: str = "reference", *, torch: bool = False) -> "LocalHandle":
        return cls(load_module(path, f"_grader_{label}_solution"), path, label, torch=torch)

    def _exchange(self, message: dict) -> dict:
        request = _roundtrip(message, tensor=self.tensor)
        response = self.dispatcher.handle(request)
        return _roundtrip(response, register=self.dispatcher.register)


def _roundtrip(value, register=None, tensor=None):
    frame = protocol.encode(value, register=register, max_bytes=LOCAL_MAX_BYTES)
    return protocol.decode(frame[8:], tensor=tensor)
