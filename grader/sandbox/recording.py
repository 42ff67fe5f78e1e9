"""The reference's answers, recorded: what lets the student kit run public checks without the
reference solution.

At kit-build time the public items are graded with the reference behind a `RecordingHandle`. The
reference is deterministic, so its answer to a request depends only on the request and on the state
of the objects the request touches. The recorder therefore names every object by a fingerprint of
its state (its attributes, arrays and generators, recursively) and keys each answer by the request
with its objects so named; it also records how the request changed the state of every object the
grader holds a handle to (a step of `SGD` changes the model's layers too). In the kit, a
`ReplayHandle` follows the same states from those records and answers from the table: in any order,
across items, for whatever example asks the same question of an object in the same state. A request
it has not seen (an input the kit did not record) raises `ReplayMiss`, never a wrong answer. The file
holds answers for inputs fixed at build time, never code.
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import itertools
import json
import types
import weakref
import zlib
from pathlib import Path

import numpy as np

from . import protocol
from .handle import LOCAL_MAX_BYTES, Handle, LocalHandle, Obj

MAGIC = b"grader-recording-2\n"
_ATOMS = (type(None), bool, int, float, complex, str, bytes)


class _Fingerprints:
    """State fingerprints (63-bit ints) of objects and of everything they hold, memoised for one request."""

    def __init__(self, opaque: itertools.count):
        self.memo: dict[int, tuple[object, bytes]] = {}   # id -> (the object, kept alive; its digest)
        self.opaque = opaque

    def __call__(self, obj) -> int:
        return int.from_bytes(self.digest(obj), "big") >> 1

    def seen(self, obj) -> bool:
        return id(obj) in self.memo

    def digest(self, obj) -> bytes:
        found = self.memo.get(id(obj))
        if found is not None:
            return found[1]
        self.memo[id(obj)] = (obj, b"cycle")
        h = hashlib.blake2b(digest_size=8)
        h.update(f"{type(obj).__module__}.{type(obj).__qualname__}\0".encode())
        for part in self._parts(obj):
            h.update(part if isinstance(part, bytes) else self.digest(part))
        self.memo[id(obj)] = (obj, h.digest())
        return h.digest()

    def _parts(self, obj):
        """Bytes, or sub-objects to fingerprint in turn."""
        if isinstance(obj, _ATOMS):
            yield repr(obj).encode()
        elif isinstance(obj, (np.ndarray, np.generic)) and obj.dtype != object:
            yield f"{obj.dtype.str}{obj.shape}".encode()
            yield np.ascontiguousarray(obj).tobytes()
        elif isinstance(obj, np.ndarray):
            yield str(obj.shape).encode()
            yield from obj.ravel().tolist()
        elif isinstance(obj, (list, tuple)):
            yield from obj
        elif isinstance(obj, dict):
            for key, value in obj.items():
                yield key
                yield value
        elif isinstance(obj, (set, frozenset)):
            yield b"".join(sorted(self.digest(v) for v in obj))
        elif isinstance(obj, np.random.Generator):
            yield obj.bit_generator.state
        elif isinstance(obj, (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType)):
            yield f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', obj.__name__)}".encode()
            if isinstance(obj, types.FunctionType):  # what a closure or a default captured is state too
                yield obj.__defaults__
                yield [_cell(c) for c in obj.__closure__ or ()]
            elif not isinstance(getattr(obj, "__self__", None), (types.ModuleType, type(None))):
                yield obj.__self__  # a built-in method bound to an object, e.g. a Generator's
        elif isinstance(obj, types.MethodType):
            yield obj.__func__
            yield obj.__self__
        elif hasattr(obj, "__dict__") or hasattr(type(obj), "__slots__"):
            yield vars(obj) if hasattr(obj, "__dict__") else {}
            for slot in getattr(type(obj), "__slots__", ()):
                yield getattr(obj, slot, None)
        else:  # a state this cannot see into: never equal to another, so never answered from the table
            yield f"opaque {next(self.opaque)}".encode()


def _cell(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def _refs(value) -> list[protocol.Ref]:
    if isinstance(value, protocol.Ref):
        return [value]
    if isinstance(value, (list, tuple)):
        return [r for v in value for r in _refs(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs(v)]
    return []


def _handles(value) -> list:
    if isinstance(value, Obj):
        return [value]
    if isinstance(value, (list, tuple)):
        return [h for v in value for h in _handles(v)]
    if isinstance(value, dict):
        return [h for v in value.values() for h in _handles(v)]
    return []


def _renamed(value, name):
    """value with every Ref replaced by Ref(name(ref), type)."""
    if isinstance(value, protocol.Ref):
        return protocol.Ref(name(value), value.type)
    if isinstance(value, list):
        return [_renamed(v, name) for v in value]
    if isinstance(value, tuple):
        return tuple(_renamed(v, name) for v in value)
    if isinstance(value, dict):
        return {k: _renamed(v, name) for k, v in value.items()}
    return value


def _updates(old: dict[int, int], new: dict[int, int]) -> list[list[int]]:
    """[state before, state after] for each state a held object left. The replayer moves every handle in
    the state before: where objects that shared it ended apart, no handle may follow (a state never seen)."""
    ends: dict[int, set[int]] = {}
    for i, state in old.items():
        ends.setdefault(state, set()).add(new[i])
    return [[state, min(ends[state]) if len(ends[state]) == 1 else -1 - state]
            for state in sorted(ends) if ends[state] != {state}]


def _merged(first: list[list[int]], second: list[list[int]]) -> list[list[int]]:
    moves = dict(map(tuple, first))
    for state, end in second:
        moves[state] = end if moves.get(state, end) == end else -1 - state
    return [[state, moves[state]] for state in sorted(moves)]


def _key(message: dict) -> str:
    return hashlib.sha256(protocol.encode(message, max_bytes=LOCAL_MAX_BYTES)).hexdigest()


class RecordingHandle(Handle):
    """A LocalHandle that records each request (its objects named by their state) with its answer and
    the state changes it caused to the objects the grader holds."""

    def __init__(self, inner: LocalHandle):
        self.inner, self.label = inner, inner.label
        self.table: dict[str, list | None] = {}
        self.held: set[int] = set()        # the Ref ids of the handles the checks still hold
        self._opaque = itertools.count()
        self._collect_every, self._requests = None, 0

    @contextlib.contextmanager
    def collecting_deterministically(self, every: int = 256):
        """Handles the checks let go of inside reference cycles die when the garbage collector runs, and
        the updates recorded depend on which handles live: the collector runs only every `every`
        requests while recording, so a build gives the same recording whatever the process did before."""
        self._collect_every, self._requests = every, 0
        enabled = gc.isenabled()
        gc.disable()
        try:
            yield self
        finally:
            self._collect_every = None
            if enabled:
                gc.enable()

    def request(self, message: dict):
        value = super().request(message)
        for obj in _handles(value):  # a handle the checks let go of can never be asked again
            weakref.finalize(obj, self.held.discard, obj.ref.id)
        return value

    def _states(self) -> tuple[_Fingerprints, dict[int, int]]:
        """The state of every held object now (one holding another changes with it)."""
        states = _Fingerprints(self._opaque)
        return states, {i: states(self.inner.dispatcher.objects.get(i)) for i in sorted(self.held)}

    def _exchange(self, message: dict) -> dict:
        if self._collect_every:
            self._requests += 1
            if self._requests % self._collect_every == 0:
                gc.collect()
        before, old = self._states()
        named = _renamed(message, lambda ref: before(self.inner.dispatcher.objects.get(ref.id)))
        response = self.inner._exchange(message)
        refs = _refs(response)
        self.held.update(ref.id for ref in refs)
        after, new = self._states()
        answer = protocol.encode(_renamed(response, lambda ref: new[ref.id]), max_bytes=LOCAL_MAX_BYTES)
        answer, updates, key = answer[8:].hex(), _updates(old, new), _key(named)
        if key not in self.table:
            self.table[key] = [answer, updates]
        elif self.table[key] is not None and self.table[key][0] != answer:
            self.table[key] = None  # the same question answered two ways: a state the fingerprint misses
        elif self.table[key] is not None:  # the same answer, other objects held: every move applies
            self.table[key][1] = _merged(self.table[key][1], updates)
        return response

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        entries = {k: v for k, v in sorted(self.table.items()) if v is not None}
        path.write_bytes(MAGIC + zlib.compress(json.dumps(entries, sort_keys=True).encode(), 9))
        return path


class ReplayHandle(Handle):
    """Answers the requests a RecordingHandle saw, with the answers it recorded."""

    label = "reference"

    def __init__(self, path: str | Path):
        data = Path(path).read_bytes()
        if not data.startswith(MAGIC):
            raise ValueError(f"{path}: not a grader recording of this version (rebuild the kit)")
        self.table = json.loads(zlib.decompress(data[len(MAGIC):]))
        self.states: dict[int, int] = {}        # the handles given out -> their object's state
        self._ids = itertools.count(1)

    def _exchange(self, message: dict) -> dict:
        from ..checks.base import ReplayMiss  # the checks' exception: search() skips such examples

        unknown = [ref for ref in _refs(message) if ref.id not in self.states]
        found = None if unknown else self.table.get(_key(_renamed(message, lambda ref: self.states[ref.id])))
        if found is None:
            raise ReplayMiss(f"no recorded answer to {message.get('op')} {message.get('name') or ''}".strip())
        answer, updates = found
        moved = dict(updates)
        for ref_id, state in self.states.items():
            if state in moved:
                self.states[ref_id] = moved[state]
        response = protocol.decode(bytes.fromhex(answer))
        return _renamed(response, self._hand_out)

    def _hand_out(self, ref: protocol.Ref) -> int:
        ref_id = next(self._ids)
        self.states[ref_id] = ref.id
        return ref_id
