"""The wire format: data only, lossless for what may cross, and a decoder that rejects anything odd."""
from __future__ import annotations

import json
import math
import pickle
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.sandbox import protocol
from grader.sandbox.protocol import Opaque, ProtocolError, Ref

MAX = 2**24


def roundtrip(value, register=None):
    return protocol.decode(protocol.encode(value, register=register, max_bytes=MAX)[8:])


def test_values_cross_unchanged():
    value = {"a": [1, 2.5, None, True, "s"], 3: (np.arange(6, dtype=np.float32).reshape(2, 3),),
             "nan": math.nan, "inf": -math.inf, "big": 2**70, "ref": Ref(4, "NN")}
    out = roundtrip(value)
    assert out["a"] == [1, 2.5, None, True, "s"]
    assert out[3][0].dtype == np.float32 and out[3][0].shape == (2, 3)
    assert math.isnan(out["nan"]) and out["inf"] == -math.inf and out["big"] == 2**70
    assert out["ref"] == Ref(4, "NN")


def test_numpy_scalars_keep_their_precision():
    assert roundtrip(np.float32(1.5)).dtype == np.float32
    assert type(roundtrip(np.float64(2.5))) is float
    assert roundtrip(np.int64(3)) == 3 and roundtrip(np.bool_(True)) is True


def test_objects_that_cannot_cross_become_refs_or_opaque():
    class Thing:
        pass
    registered = []

    def register(obj):
        registered.append(obj)
        return Ref(len(registered), type(obj).__name__)
    assert roundtrip({"x": Thing()}, register) == {"x": Ref(1, "Thing")}
    assert isinstance(roundtrip(lambda: 0), Opaque)


def test_float_subclasses_and_array_subclasses_do_not_cross_as_themselves():
    class Liar(float):
        def __eq__(self, other):
            return True
    assert isinstance(roundtrip(Liar(1.0)), Opaque)

    class Sub(np.ndarray):
        pass
    out = roundtrip(np.zeros(3).view(Sub))
    assert type(out) is np.ndarray


def _body(node: dict, payload: bytes) -> bytes:
    doc = json.dumps(node).encode()
    return struct.pack(">I", len(doc)) + doc + struct.pack(">Q", len(payload)) + payload


def test_object_arrays_and_pickles_are_refused():
    for dtype in ("|O", "O", "<U3", "|V8", "[('a', '<f8')]"):
        with pytest.raises(ProtocolError, match="not allowed"):
            protocol.decode(_body({"t": "nd", "i": 0, "dtype": dtype, "shape": [1]}, b"\0" * 8))
    with pytest.raises(ProtocolError):
        protocol.decode(pickle.dumps({"ok": 1}))


def test_oversized_messages_are_refused_both_ways():
    with pytest.raises(ProtocolError, match="exceeds"):
        protocol.encode(np.zeros(2**20), max_bytes=2**20)
    with pytest.raises(ProtocolError, match="exceeds"):
        protocol.frame_length(struct.pack(">Q", 2**40), max_bytes=2**20)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.binary(max_size=300))
def test_the_decoder_rejects_garbage_with_a_protocol_error(data):
    try:
        protocol.decode(data)
    except ProtocolError:
        pass


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(st.data())
def test_truncated_and_corrupted_frames_are_rejected_cleanly(data):
    frame = protocol.encode({"ok": [np.arange(5.0), {"k": "v"}]}, max_bytes=MAX)[8:]
    cut = data.draw(st.integers(0, len(frame)))
    flip = data.draw(st.integers(0, len(frame) - 1))
    corrupted = bytearray(frame)
    corrupted[flip] ^= data.draw(st.integers(1, 255))
    for candidate in (frame[:cut], bytes(corrupted)):
        try:
            protocol.decode(candidate)
        except ProtocolError:
            pass


@settings(max_examples=100, derandomize=True, database=None, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                    max_leaves=10))
def test_json_like_values_roundtrip(value):
    assert roundtrip(value) == value


def test_a_forged_array_header_cannot_make_the_grader_allocate():
    with pytest.raises(ProtocolError, match="needs"):
        protocol.decode(_body({"t": "nd", "i": 0, "dtype": "<f8", "shape": [10**12]}, b"\0" * 16))
    with pytest.raises(ProtocolError, match="shape"):
        protocol.decode(_body({"t": "nd", "i": 0, "dtype": "<f8", "shape": [-1, 2]}, b"\0" * 16))


def test_fortran_ordered_arrays_keep_their_values():
    a = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    assert np.array_equal(roundtrip(a), a)
