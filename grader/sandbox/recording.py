"""The reference's answers, recorded: what lets the student kit run public checks without the
reference solution.

At kit-build time the public items are graded once (the reference as the student) with the
reference behind a `RecordingHandle`, which keeps every request it answered and the answer, keyed by
the request's exact encoding. In the kit, a `ReplayHandle` answers from that table; a request it has
not seen (an input the kit did not record, for instance while hypothesis shrinks a failing example)
raises `ReplayMiss`. The file holds answers for inputs fixed at build time, never code.
"""
from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path

from . import protocol
from .handle import LOCAL_MAX_BYTES, Handle, LocalHandle

MAGIC = b"grader-recording-1\n"


def _key(item: str, message: dict) -> str:
    return hashlib.sha256(item.encode() + b"\0" + protocol.encode(message, max_bytes=LOCAL_MAX_BYTES)).hexdigest()


def _with_ordinals(value, ordinals: dict[int, int]):
    """value with every Ref's id replaced by its order of appearance in the item: object ids depend on
    everything graded before, the order within an item does not."""
    if isinstance(value, protocol.Ref):
        return protocol.Ref(ordinals.setdefault(value.id, len(ordinals) + 1), value.type)
    if isinstance(value, list):
        return [_with_ordinals(v, ordinals) for v in value]
    if isinstance(value, tuple):
        return tuple(_with_ordinals(v, ordinals) for v in value)
    if isinstance(value, dict):
        return {k: _with_ordinals(v, ordinals) for k, v in value.items()}
    return value


class RecordingHandle(Handle):
    """A LocalHandle that remembers (request, response) pairs, per rubric item."""

    def __init__(self, inner: LocalHandle):
        self.inner, self.label, self.table = inner, inner.label, {}
        self.begin_item("")

    def begin_item(self, item_id: str) -> None:
        self.item, self.ordinals = item_id, {}

    def _exchange(self, message: dict) -> dict:
        response = self.inner._exchange(message)
        key = _key(self.item, _with_ordinals(message, self.ordinals))
        answer = protocol.encode(_with_ordinals(response, self.ordinals), max_bytes=LOCAL_MAX_BYTES)[8:]
        self.table.setdefault(key, answer)  # the first run recorded (the reference's) is the complete one
        return response

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        entries = {k: v.hex() for k, v in sorted(self.table.items())}
        path.write_bytes(MAGIC + zlib.compress(json.dumps(entries, sort_keys=True).encode(), 9))
        return path


class ReplayHandle(Handle):
    """Answers the requests a RecordingHandle saw, with the answers it recorded."""

    label = "reference"

    def __init__(self, path: str | Path):
        data = Path(path).read_bytes()
        if not data.startswith(MAGIC):
            raise ValueError(f"{path}: not a grader recording")
        self.table = json.loads(zlib.decompress(data[len(MAGIC):]))
        self.item = ""

    def begin_item(self, item_id: str) -> None:
        self.item = item_id

    def _exchange(self, message: dict) -> dict:
        from ..checks.base import ReplayMiss  # the checks' exception: search() skips such examples

        found = self.table.get(_key(self.item, message))
        if found is None:
            raise ReplayMiss(f"no recorded answer to {message.get('op')} {message.get('name') or ''}".strip())
        return protocol.decode(bytes.fromhex(found))
