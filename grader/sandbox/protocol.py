"""The data-only wire format between the grader and the worker; the only module that knows it.

A frame is an 8-byte big-endian body length, then the body: a 4-byte JSON length, the JSON
document, then each array's raw bytes (C order) behind an 8-byte length. The JSON node of an array
gives its dtype and shape. Decoding never executes anything: JSON, a dtype string that must match
a whitelist of numeric types, and a byte count that must equal what the shape declares.

Values that cross: None, bool, int, float (NaN and infinities included), str, list, tuple, dict
(keys str or int), numeric NumPy arrays and scalars, `Tensor` (a PyTorch tensor as an array plus
its dtype's name, device and autograd flags: the worker converts it to and from torch, the grader
never imports torch), `Ref` (a handle on an object that stays in the process that owns it) and
`Opaque` (the description of a value that cannot cross).
"""
from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass

import numpy as np

MAX_DEPTH = 64
_ALLOWED_KINDS = frozenset("biufc")
_DTYPE = re.compile(r"[<>|=]?[biufc][0-9]{1,2}")


class ProtocolError(Exception):
    """A message that is malformed, truncated, too large or holds a value that cannot cross."""


@dataclass(frozen=True)
class Ref:
    """A handle on an object held by the other side's object table."""
    id: int
    type: str


@dataclass(frozen=True)
class Tensor:
    """A PyTorch tensor as data. array: its values on the CPU (bfloat16 crosses as float32)."""
    array: np.ndarray
    dtype: str = ""                 # torch's name, e.g. "float32"; "" = the array's
    device: str = "cpu"
    requires_grad: bool = False
    grad_fn: str | None = None      # the name of the autograd node that made it, if any

    @property
    def shape(self) -> tuple:
        return tuple(self.array.shape)


@dataclass(frozen=True)
class Opaque:
    """A value that cannot cross the protocol (a function, a generator, an object in a list...)."""
    type: str
    repr: str


def _encode_value(value, arrays: list, register, depth: int):
    if depth > MAX_DEPTH:
        raise ProtocolError(f"value nested deeper than {MAX_DEPTH} levels")
    if value is None or type(value) in (bool, str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value) if -2**63 <= int(value) < 2**63 else {"t": "bigint", "v": str(int(value))}
    if isinstance(value, float) and type(value) in (float, np.float64):
        return value if math.isfinite(value) else {"t": "float", "v": repr(float(value))}
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)  # an ndarray subclass crosses as a plain ndarray
        if array.dtype.kind not in _ALLOWED_KINDS:
            return _opaque(value)
        if not array.flags.c_contiguous:  # (np.ascontiguousarray would make a 0-d array 1-d)
            array = array.copy(order="C")
        arrays.append(array)
        return {"t": "nd", "i": len(arrays) - 1, "dtype": array.dtype.str, "shape": list(array.shape)}
    if isinstance(value, Tensor):
        return {"t": "tensor", "a": _encode_value(np.asarray(value.array), arrays, None, depth + 1),
                "dtype": str(value.dtype), "device": str(value.device),
                "rg": bool(value.requires_grad), "fn": None if value.grad_fn is None else str(value.grad_fn)}
    if isinstance(value, Ref):
        return {"t": "ref", "id": value.id, "type": value.type}
    if isinstance(value, Opaque):
        return {"t": "opaque", "type": value.type, "repr": value.repr}
    if type(value) in (list, tuple):
        items = [_encode_value(v, arrays, register, depth + 1) for v in value]
        return items if type(value) is list else {"t": "tuple", "v": items}
    if type(value) is dict:
        pairs = []
        for k, v in value.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise ProtocolError(f"dict key {k!r} of type {type(k).__name__} cannot cross")
            pairs.append([k, _encode_value(v, arrays, register, depth + 1)])
        return {"t": "dict", "v": pairs}
    if register is not None:
        return _encode_value(register(value), arrays, None, depth)
    return _opaque(value)


def _opaque(value) -> dict:
    try:
        text = repr(value)[:200]
    except Exception:  # a student's __repr__ may raise
        text = "<unrepresentable>"
    return {"t": "opaque", "type": type(value).__name__, "repr": text}


def _decode_value(node, arrays: list, depth: int, tensor=None):
    if depth > MAX_DEPTH:
        raise ProtocolError(f"value nested deeper than {MAX_DEPTH} levels")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode_value(v, arrays, depth + 1, tensor) for v in node]
    if not isinstance(node, dict) or "t" not in node:
        raise ProtocolError(f"unexpected JSON node {str(node)[:80]}")
    tag = node["t"]
    try:
        if tag == "nd":
            return _array(arrays[node["i"]], node["dtype"], node["shape"])
        if tag == "tuple":
            return tuple(_decode_value(v, arrays, depth + 1, tensor) for v in node["v"])
        if tag == "dict":
            out = {}
            for k, v in node["v"]:
                if not isinstance(k, (str, int)):
                    raise ProtocolError("dict key must be str or int")
                out[k] = _decode_value(v, arrays, depth + 1, tensor)
            return out
        if tag == "tensor":
            array = node["a"]
            if not isinstance(array, dict) or array.get("t") != "nd":
                raise ProtocolError("a tensor node must hold an array")
            value = Tensor(_decode_value(array, arrays, depth + 1), str(node["dtype"]), str(node["device"]),
                           bool(node["rg"]), None if node["fn"] is None else str(node["fn"]))
            return value if tensor is None else tensor(value)
        if tag == "float":
            return float(node["v"])
        if tag == "bigint":
            return int(node["v"])
        if tag == "ref":
            return Ref(int(node["id"]), str(node["type"]))
        if tag == "opaque":
            return Opaque(str(node["type"]), str(node["repr"]))
    except ProtocolError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ProtocolError(f"malformed {tag!r} node: {exc}") from None
    raise ProtocolError(f"unknown tag {tag!r}")


def encode_parts(message, *, register=None, max_bytes: int) -> list:
    """message -> the frame as a list of buffers, to be written in order. Arrays are not copied."""
    arrays: list[np.ndarray] = []
    doc = json.dumps(_encode_value(message, arrays, register, 0), allow_nan=False).encode()
    parts = [None, struct.pack(">I", len(doc)), doc]
    for array in arrays:
        payload = memoryview(array).cast("B") if array.size else b""
        parts += [struct.pack(">Q", len(payload)), payload]
    length = sum(len(p) for p in parts[1:])
    if length > max_bytes:
        raise ProtocolError(f"message of {length / 2**20:.1f} MiB exceeds the {max_bytes / 2**20:.0f} MiB limit")
    parts[0] = struct.pack(">Q", length)
    return parts


def encode(message, *, register=None, max_bytes: int) -> bytes:
    """message -> one frame (a copy; `encode_parts` avoids it for large arrays)."""
    return b"".join(bytes(p) for p in encode_parts(message, register=register, max_bytes=max_bytes))


def frame_length(prefix: bytes, *, max_bytes: int) -> int:
    """prefix: the first 8 bytes of a frame -> the length of its body; refuses oversized frames."""
    (length,) = struct.unpack(">Q", prefix)
    if length > max_bytes:
        raise ProtocolError(f"incoming message of {length / 2**20:.1f} MiB exceeds the "
                            f"{max_bytes / 2**20:.0f} MiB limit")
    return length


def decode(body: bytes, *, tensor=None):
    """body: a frame without its 8-byte length -> the value. Raises ProtocolError on anything odd.
    tensor: where given (the worker of a PyTorch assignment), makes each `Tensor` a torch tensor."""
    try:
        view = memoryview(body)
        if len(view) < 4:
            raise ProtocolError("truncated message")
        (doc_len,) = struct.unpack(">I", view[:4])
        if 4 + doc_len > len(view):
            raise ProtocolError("truncated JSON document")
        doc = json.loads(bytes(view[4:4 + doc_len]).decode())
        arrays, pos = [], 4 + doc_len
        while pos < len(view):
            if pos + 8 > len(view):
                raise ProtocolError("truncated array header")
            (n,) = struct.unpack(">Q", view[pos:pos + 8])
            if pos + 8 + n > len(view):
                raise ProtocolError("truncated array")
            arrays.append(view[pos + 8:pos + 8 + n])
            pos += 8 + n
        return _decode_value(doc, arrays, 0, tensor)
    except ProtocolError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError, struct.error) as exc:
        raise ProtocolError(f"malformed message: {type(exc).__name__}: {str(exc)[:200]}") from None


def _array(payload: memoryview, dtype, shape) -> np.ndarray:
    """Raw bytes -> array. The dtype must be a plain numeric type and the byte count must be exactly what
    the shape declares, so a forged node can never make the grader allocate more than the message."""
    if not isinstance(dtype, str) or not _DTYPE.fullmatch(dtype):
        raise ProtocolError(f"array of dtype {str(dtype)[:20]!r} is not allowed")
    dt = np.dtype(dtype)
    if dt.kind not in _ALLOWED_KINDS:
        raise ProtocolError(f"array of dtype {dt} is not allowed")
    if not isinstance(shape, list) or len(shape) > 32 or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise ProtocolError(f"bad array shape {str(shape)[:60]}")
    count = math.prod(shape)
    if count * dt.itemsize != len(payload):
        raise ProtocolError(f"array of shape {tuple(shape)} needs {count * dt.itemsize} bytes, "
                            f"the message holds {len(payload)}")
    # A view into the message: writable when the message was received into a bytearray.
    array = np.frombuffer(payload, dtype=dt, count=count)
    if not array.flags.writeable:
        array = array.copy()
    return array.reshape(shape)
