"""The pipe format (gradcheck/audit/wire.py) and the grader's validation of what a child sends.

Fast, in-process tests of the format, then one sandbox that proves handles, dotted names,
packages with sibling imports and stale handles end to end.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck.audit import wire
from gradcheck.audit.sandbox import Limits, ProtocolError, Sandbox, decode_reply, encode_request


def _round_trip(value):
    node, arrays = wire.dump_value(value)
    frame = wire.pack({"status": "ok", "value": node}, arrays)
    hlen, plen = wire.frame_sizes(frame, 1 << 30)
    head = frame[wire.HEAD.size:wire.HEAD.size + hlen]
    payload = frame[wire.HEAD.size + hlen:]
    assert len(payload) == plen
    return decode_reply(head, payload, 10_000)[1]


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and np.array_equal(
            a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


_arrays = st.sampled_from(["?", "<i1", "<i8", "<u2", "<f2", "<f4", "<f8", ">f8", ">i4"]).flatmap(
    lambda dt: st.lists(st.integers(0, 3), max_size=3).map(
        lambda shape: (np.arange(int(np.prod(shape)), dtype=np.dtype(dt)) if dt != "?"
                       else np.ones(int(np.prod(shape)), bool)).reshape(shape)))
_leaves = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=5) | _arrays
_values = st.recursive(_leaves, lambda kids: st.lists(kids, max_size=3) | st.lists(kids, max_size=3).map(tuple)
                       | st.dictionaries(st.text(max_size=3), kids, max_size=3), max_leaves=12)


@settings(max_examples=60, deadline=None)
@given(_values)
def test_every_wire_value_round_trips_with_its_type_and_dtype(value):
    got = _round_trip(value)
    expect = value
    if isinstance(value, np.ndarray) and value.dtype.byteorder == ">":
        expect = value.astype(value.dtype.newbyteorder("="))
    if isinstance(value, np.ndarray) or not isinstance(value, (list, tuple, dict)):
        assert _same(expect, got) or (isinstance(value, np.ndarray) and np.array_equal(value, got)
                                      and got.dtype == value.dtype.newbyteorder("="))
    else:
        assert type(got) is type(value)


def test_numpy_scalars_are_zero_d_arrays_and_big_ints_survive():
    assert _round_trip(np.float32(1.5)).shape == ()
    assert _round_trip(np.float32(1.5)).dtype == np.float32
    assert _round_trip(2**100) == 2**100
    assert _round_trip(float("-inf")) == float("-inf")


def test_the_grader_never_sends_objects():
    with pytest.raises(wire.WireError, match="cannot send a object"):
        wire.dump_value([object()])
    with pytest.raises(wire.WireError, match="dtype object"):
        wire.dump_value(np.array([None]))
    with pytest.raises(wire.WireError):
        wire.dump_value({1: 2})


def test_the_child_keeps_non_data_as_handles():
    kept = []

    def keep(obj):
        kept.append(obj)
        return len(kept), type(obj).__name__

    cache = object()
    node, arrays = wire.dump_value((np.ones(2), (cache, {1: "x"}), np.array([None])), keep)
    assert kept[0] is cache and kept[1] == {1: "x"} and kept[2].dtype == object
    value = wire.load_value(node, wire.load_arrays([list(e[:4]) for e in arrays], b"".join(e[4] for e in arrays),
                                                   10), lambda hid, name: ("handle", hid, name))
    assert value[1] == (("handle", 1, "object"), ("handle", 2, "dict"))



def test_the_child_refuses_an_oversized_return_before_copying_it():
    """A broadcast view of 10**12 numbers costs nothing to return; copying it for the pipe would raise a
    MemoryError that the feedback would blame on the student's function."""
    huge = np.broadcast_to(np.float64(1.0), (10**6, 10**6))
    with pytest.raises(wire.WireError, match=r"holds 1,000,000,000,000 numbers or more; the limit for a return "
                                             r"value is 1,000\b"):
        wire.dump_value(huge, lambda obj: (1, "x"), max_elements=1000)
    with pytest.raises(wire.WireError, match="holds 1,002 numbers or more"):
        wire.dump_value([np.ones(600), {"b": np.ones(402)}], lambda obj: (1, "x"), max_elements=1000)
    node, arrays = wire.dump_value([np.ones(600), np.ones(400)], lambda obj: (1, "x"), max_elements=1000)
    assert [e[1] for e in arrays] == [[600], [400]]

def _head(value, arrays=()):
    return json.dumps({"status": "ok", "value": value, "arrays": list(arrays)}).encode()


@pytest.mark.parametrize("header, payload, words", [
    (b"not json", b"", "not JSON"),
    (b'{"status": "ok", "value": NaN}', b"", "not JSON"),
    (json.dumps({"status": "pwned"}).encode(), b"", "no valid status"),
    (_head({"$a": 0}, [["|O", [1], 0, 8]]), b"\0" * 8, "only real numbers"),
    (_head({"$a": 0}, [["<f8", [2], 0, 8]]), b"\0" * 8, "does not match"),
    (_head({"$a": 0}, [["<f8", [1], 0, 8]]), b"\0" * 16, "no array accounts for"),
    (_head({"$a": 0}, [["<f8", [2000], 0, 16000]]), b"\0" * 16000, "more than 1000 numbers"),
    (_head({"$a": 3}), b"", "not in the frame"),
    (_head({"$x": 0}), b"", "not in the wire format"),
    (_head([1, 2]), b"", "not in the wire format"),
    (_head({"$i": "1" * 5000}), b"", "not in the wire format"),
    (_head(json.loads("[" * 40 + "1" + "]" * 40)), b"", "not in the wire format"),
])
def test_replies_are_validated(header, payload, words):
    with pytest.raises(ProtocolError, match=words):
        decode_reply(header, payload, 1000)


def test_deep_nesting_is_refused():
    node = 1
    for _ in range(40):
        node = {"$l": [node]}
    with pytest.raises(ProtocolError, match="nested deeper"):
        decode_reply(_head(node), b"", 1000)


def test_requests_carry_args_kwargs_and_handles():
    frame = encode_request({"op": "call", "name": "f"},
                           {"args": (np.ones(2), wire.Handle(7, "Cache")), "kwargs": {"p": 0.5}})
    hlen, _ = wire.frame_sizes(frame, 1 << 20)
    h = json.loads(frame[wire.HEAD.size:wire.HEAD.size + hlen])
    assert h["args"]["$t"][1] == {"$h": 7} and h["kwargs"] == {"$d": {"p": 0.5}}


PACKAGE = {
    "hw/cs231n/__init__.py": "",
    "hw/cs231n/layer_utils.py": "def twice(x):\n    return 2 * x\n",
    "hw/cs231n/layers.py": '''
import numpy as np
from .layer_utils import twice
from cs231n import layer_utils


class Cache:
    pass


def affine_forward(x, w, b):
    c = Cache()
    c.x, c.w = x, w
    return x @ w + b, (c, {1: "non-str key"}, np.float32(2.5))


def affine_backward(dout, cache):
    c, odd, f = cache
    assert isinstance(c, Cache) and odd[1] == "non-str key" and f.dtype == np.float32
    return twice(dout @ c.w.T) / 2, c.x.T @ dout, dout.sum(axis=0)


class Network:
    def __init__(self, sizes, cost=None):
        self.sizes, self.cost = sizes, cost

    def scaled(self, k=1):
        return [w * k for w in self.weights], self.cost.__name__


class QuadraticCost:
    @staticmethod
    def fn(a, y):
        return 0.5 * float(np.sum((a - y) ** 2))


def forever():
    while True:
        pass


def fwd_dd(x):
    import collections

    cache = collections.defaultdict(list)
    cache["x"] = x
    return 2 * x, cache


def bwd_dd(dout, cache):
    assert type(cache).__name__ == "defaultdict" and cache["never set"] == [], "the cache was changed on the way"
    return 2 * dout
''',
}


def test_handles_dotted_names_packages_and_stale_handles(tmp_path):
    for rel, text in PACKAGE.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    x, w, b = np.arange(6.).reshape(2, 3), np.ones((3, 2)), np.zeros(2)
    with Sandbox(str(tmp_path), "cs231n.layers", root="hw", limits=Limits(timeout=3)) as sb:
        fwd = sb.call("affine_forward", x, w, b)
        assert fwd.ok, fwd.message
        out, cache = fwd.value
        assert isinstance(cache, tuple) and isinstance(cache[0], wire.Handle) and cache[0].type_name == "Cache"
        assert isinstance(cache[1], wire.Handle) and cache[2].dtype == np.float32
        back = sb.call("affine_backward", np.ones_like(out), cache)
        assert back.ok, (back.message, back.traceback)
        np.testing.assert_allclose(back.value[1], x.T @ np.ones((2, 2)))
        assert sb.call("QuadraticCost.fn", np.ones(2), np.zeros(2)).value == 1.0
        cost = sb.get_attr(None, "QuadraticCost").value
        net = sb.call("Network", [3, 2], cost=cost).value
        assert sb.set_attr(net, "weights", [np.ones((2, 3))]).ok
        scaled, name = sb.call_method(net, "scaled", k=3).value
        assert name == "QuadraticCost" and scaled[0].tolist() == [[3.0] * 3] * 2
        missing = sb.call("conv_forward_naive", x)
        assert missing.kind == "missing" and "hw/cs231n/layers.py does not define a function conv_forward_naive()" \
            in missing.message
        assert sb.call_method(net, "nope").kind == "missing"
        kept = sb.invoke("call", "fwd_dd", (x,), keep=[1])       # the cache stays in the child, as it is
        assert isinstance(kept.value[1], wire.Handle) and kept.value[1].type_name == "defaultdict"
        assert sb.call("bwd_dd", x, kept.value[1]).ok
        plain = sb.call("fwd_dd", x)                              # as data it would come back a plain dict
        assert type(plain.value[1]) is dict and sb.call("bwd_dd", x, plain.value[1]).kind == "exception"
        assert sb.invoke("call", "forever", timeout=0.5).kind == "timeout"
        stale = sb.call_method(net, "scaled")
        assert stale.kind == "stale" and "earlier run" in stale.message
        assert sb.call("QuadraticCost.fn", np.ones(1), np.zeros(1)).value == 0.5  # a fresh child serves again


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
                     lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
                         st.sampled_from(["$a", "$l", "$t", "$d", "$h", "$f", "$i", "type", "x"]), kids, max_size=3),
                     max_leaves=10)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64) | _json.map(lambda v: json.dumps({"status": "ok", "value": v}).encode()),
       st.binary(max_size=64))
def test_any_bytes_from_the_child_give_a_value_or_a_protocol_error(header, payload):
    try:
        decode_reply(header, payload, 1000)
    except ProtocolError:
        pass


def test_a_traceback_a_hundred_thousand_frames_deep_reads_only_the_frames_it_shows(tmp_path, monkeypatch):
    """Unbounded recursion under a raised recursion limit: the child's error report shows three repeats and a
    count, as Python does, and reads the source of those frames only (reading them all took seconds of the
    student's time limit). The traceback is built, not recursed: deep recursion can crash Python 3.10."""
    import linecache
    import types

    from gradcheck.audit import harness

    (tmp_path / "deep.py").write_text("def deep(n):\n    return deep(n + 1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import deep

    try:
        deep.deep(0)
    except RecursionError as exc:
        first, frame = exc.__traceback__, exc.__traceback__.tb_next
    chain = None
    for _ in range(100_000):
        chain = types.TracebackType(chain, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    error = RecursionError("maximum recursion depth exceeded").with_traceback(
        types.TracebackType(chain, first.tb_frame, first.tb_lasti, first.tb_lineno))   # this test's own frame
    reads = []
    real_getline = linecache.getline
    monkeypatch.setattr(linecache, "getline", lambda *a, **k: reads.append(a) or real_getline(*a, **k))
    report = harness.describe_error(error, str(tmp_path))
    lines = report["traceback"].splitlines()
    assert report["type"] == "RecursionError"
    assert [ln for ln in lines if ln.startswith("  File")] == ['  File "deep.py", line 2, in deep'] * 3
    assert lines[-1] == "  [Previous line repeated 99997 more times]"
    assert len(reads) < 20
