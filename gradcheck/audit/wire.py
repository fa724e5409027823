"""The pipe format between the grader and a sandboxed child: one module, used by both sides.

A frame is ``MAGIC, header length, payload length`` (big-endian), a JSON header, then the
raw bytes of the arrays it lists (dtype, shape, offset, length in the header).  No pickle,
no ``.npy`` parsing: arrays are rebuilt with ``numpy.frombuffer`` from an allowlisted
dtype, so the only parser that ever sees bytes from the child is ``json``.

Values on the wire: None, bool, int, float, str, list, tuple, dict with str keys, numpy
arrays of real numbers (bool, int, uint, float) and ``Handle`` (an object that stays in the
child).  The child turns everything else into a Handle; the parent refuses anything that
is not one of these, and checks sizes, depth and counts on the way (the child is the
student's and may send any bytes).

Standard library + numpy only, and no package-relative imports: the child loads this file
by path, without gradcheck on its filesystem.
"""
import json
import math
import re
import struct

import numpy as np

MAGIC = b"GCW2"
HEAD = struct.Struct(">4sII")
MAX_DEPTH = 32
MAX_HEADER = 8 << 20
MAX_ITEMS = 100_000          # list/tuple items + dict entries + arrays in one message
MAX_STR = 100_000            # characters in one str (keys included)
MAX_INT_DIGITS = 400
DTYPES = frozenset(np.dtype(t).str for t in (
    "?", "<i1", "<i2", "<i4", "<i8", "<u1", "<u2", "<u4", "<u8", "<f2", "<f4", "<f8"))
_INT64 = (np.iinfo(np.int64).min, np.iinfo(np.int64).max)
_SURROGATE = re.compile("[\ud800-\udfff]")


class WireError(ValueError):
    """A frame or value that breaks the format or its limits (said in words a grader log can show)."""


class Handle:
    """An object that lives in the child: a class instance, a cache, a function.

    Only the child can use it; the grader passes it back as an argument.  ``child`` names
    the child process it belongs to, so a handle from a child that has since been replaced
    is recognised as stale instead of meaning some other object.
    """

    __slots__ = ("id", "type_name", "child")

    def __init__(self, id, type_name, child=0):
        self.id, self.type_name, self.child = int(id), str(type_name), child

    def __repr__(self):
        return f"Handle({self.id}, {self.type_name!r})"

    def __eq__(self, other):
        return isinstance(other, Handle) and (self.id, self.child) == (other.id, other.child)

    def __hash__(self):
        return hash((self.id, self.child))


# ----------------------------------------------------------------------------- values -> JSON
def _array_entry(a, arrays, payload_len):
    a = a if a.flags.c_contiguous else a.copy(order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    data = a.tobytes()
    arrays.append((a.dtype.str, list(a.shape), payload_len[0], len(data), data))
    payload_len[0] += len(data)
    return {"$a": len(arrays) - 1}


def is_data_array(v):
    return isinstance(v, np.ndarray) and type(v) is np.ndarray and v.dtype.kind in "biuf" \
        and v.dtype.newbyteorder("<").str in DTYPES


def dump_value(value, make_handle=None, max_elements=None):
    """value -> (JSON node, array entries).

    make_handle(obj) -> (id, type_name) turns a non-data part into a handle (the child
    side); without it (the parent side) a non-data part raises WireError.  More than
    max_elements numbers in all its arrays is a WireError, raised before the array that
    crosses the limit is copied: a broadcast view of 10**12 numbers costs nothing to
    return, and copying it would be reported as a MemoryError of the student's function.
    """
    arrays, payload_len, count, numbers = [], [0], [0], [0]

    def node(v, depth):
        count[0] += 1
        if count[0] > MAX_ITEMS or depth > MAX_DEPTH:
            if make_handle is not None:
                return handle(v)
            raise WireError(f"the value is nested deeper than {MAX_DEPTH} levels or has more than "
                            f"{MAX_ITEMS} parts")
        t = type(v)
        if v is None or t is bool or t is str:
            return v
        if t is int:
            return v if _INT64[0] <= v <= _INT64[1] else {"$i": str(v)} if len(str(v)) <= MAX_INT_DIGITS \
                else handle(v)
        if t is float:
            return v if math.isfinite(v) else {"$f": repr(v)}
        if isinstance(v, Handle):
            return {"$h": v.id}
        if t is list:
            return {"$l": [node(x, depth + 1) for x in v]}
        if t is tuple:
            return {"$t": [node(x, depth + 1) for x in v]}
        if isinstance(v, dict) and all(type(k) is str for k in dict.keys(v)):
            # an OrderedDict or defaultdict with str keys crosses as a plain dict
            return {"$d": {k: node(x, depth + 1) for k, x in dict.items(v)}}
        if isinstance(v, np.generic) and v.dtype.kind in "biuf":
            v = np.asarray(v)
        elif isinstance(v, np.ndarray) and type(v) is not np.ndarray and v.dtype.kind in "biuf":
            v = np.asarray(v)  # a subclass (matrix, masked ...) crosses as its plain data
        if is_data_array(v):
            numbers[0] += v.size
            if max_elements is not None and numbers[0] > max_elements:
                raise WireError(f"the return value holds {numbers[0]:,} numbers or more; the limit for a return "
                                f"value is {max_elements:,}")
            return _array_entry(v, arrays, payload_len)
        return handle(v)

    def handle(v):
        if make_handle is None:
            what = f"an array of dtype {v.dtype}" if isinstance(v, np.ndarray) else f"a {type(v).__name__}"
            raise WireError(f"cannot send {what}: only None, bool, int, float, str, list, tuple, dict with str "
                            f"keys, arrays of real numbers and handles cross to the sandbox")
        hid, tname = make_handle(v)
        return {"$h": hid, "type": tname}

    return node(value, 0), arrays


def pack(header, arrays=()):
    """header (a JSON-able dict) + array entries from dump_value -> one frame."""
    header = dict(header, arrays=[list(e[:4]) for e in arrays])
    head = json.dumps(header, separators=(",", ":")).encode()
    payload = b"".join(e[4] for e in arrays)
    return HEAD.pack(MAGIC, len(head), len(payload)) + head + payload


def frame_sizes(prefix, max_payload):
    """From the first HEAD.size bytes: (header length, payload length), or WireError."""
    magic, hlen, plen = HEAD.unpack(bytes(prefix[:HEAD.size]))
    if magic != MAGIC:
        raise WireError("the frame does not start with the protocol's magic bytes")
    if hlen > MAX_HEADER:
        raise WireError(f"the header is larger than {MAX_HEADER} bytes")
    if plen > max_payload:
        raise WireError(f"the payload is larger than {max_payload} bytes")
    return hlen, plen


# ----------------------------------------------------------------------------- JSON -> values
def _no_constants(name):
    raise WireError(f"the header contains {name}, which is not JSON")


def load_header(head):
    """JSON bytes -> dict; refuses NaN/Infinity literals, deep nesting and non-dicts."""
    try:
        h = json.loads(head, parse_constant=_no_constants)
    except WireError:
        raise
    except (ValueError, RecursionError, UnicodeDecodeError) as e:
        raise WireError(f"the header is not JSON ({type(e).__name__})") from None
    if not isinstance(h, dict):
        raise WireError("the header is not a JSON object")
    return _valid_text(h)


def _valid_text(node):
    """Lone surrogates ("\\ud800" in JSON) become U+FFFD, so every str can be written as UTF-8 later."""
    if isinstance(node, str):
        return node if node.isascii() else _SURROGATE.sub("\ufffd", node)
    if isinstance(node, list):
        return [_valid_text(v) for v in node]
    if isinstance(node, dict):
        return {_valid_text(k): _valid_text(v) for k, v in node.items()}
    return node


def load_arrays(entries, payload, max_elements):
    """Array entries from a header + the payload -> numpy arrays (validated, writable copies)."""
    if not isinstance(entries, list) or len(entries) > MAX_ITEMS:
        raise WireError("the list of arrays is malformed or too long")
    out, total, expect = [], 0, 0
    for e in entries:
        if not (isinstance(e, list) and len(e) == 4 and isinstance(e[0], str) and isinstance(e[1], list)
                and type(e[2]) is int and type(e[3]) is int):
            raise WireError("an array entry is malformed")
        dt, shape, off, n = e
        if dt not in DTYPES:
            raise WireError(f"an array has dtype {dt!r}; only real numbers (bool, int, uint, float) are accepted")
        if len(shape) > 32 or not all(type(s) is int and 0 <= s < 1 << 40 for s in shape):
            raise WireError("an array has a malformed shape")
        size = 1
        for s in shape:
            size *= s
        total += size
        if size > max_elements or total > max_elements:
            raise WireError(f"the arrays hold more than {max_elements} numbers")
        dtype = np.dtype(dt)
        if off != expect or n != size * dtype.itemsize or off + n > len(payload):
            raise WireError("an array's offset or length does not match its shape and the payload")
        expect += n
        out.append(np.frombuffer(payload, dtype=dtype, count=size, offset=off).reshape(shape)
                   .astype(dtype.newbyteorder("="), copy=True))
    if expect != len(payload):
        raise WireError("the payload has bytes no array accounts for")
    return out


def load_value(node, arrays, resolve_handle):
    """JSON node -> value; resolve_handle(id, type_name) -> the object (either side decides)."""
    count = [0]

    def val(v, depth):
        count[0] += 1
        if depth > MAX_DEPTH + 1 or count[0] > MAX_ITEMS + 1:
            raise WireError(f"the value is nested deeper than {MAX_DEPTH} levels or has too many parts")
        if v is None or isinstance(v, bool):
            return v
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            return v
        if isinstance(v, str):
            if len(v) > MAX_STR:
                raise WireError(f"a string is longer than {MAX_STR} characters")
            return v
        if not isinstance(v, dict) or len(v) == 0:
            raise WireError("a value is not in the wire format")
        if "$l" in v and len(v) == 1 and isinstance(v["$l"], list):
            return [val(x, depth + 1) for x in v["$l"]]
        if "$t" in v and len(v) == 1 and isinstance(v["$t"], list):
            return tuple(val(x, depth + 1) for x in v["$t"])
        if "$d" in v and len(v) == 1 and isinstance(v["$d"], dict):
            for k in v["$d"]:
                if len(k) > MAX_STR:
                    raise WireError(f"a dict key is longer than {MAX_STR} characters")
            return {k: val(x, depth + 1) for k, x in v["$d"].items()}
        if "$a" in v and len(v) == 1 and type(v["$a"]) is int:
            if not 0 <= v["$a"] < len(arrays):
                raise WireError("a value refers to an array that is not in the frame")
            return arrays[v["$a"]]
        if "$f" in v and len(v) == 1 and v["$f"] in ("nan", "inf", "-inf"):
            return float(v["$f"])
        if "$i" in v and len(v) == 1 and isinstance(v["$i"], str) and 0 < len(v["$i"]) <= MAX_INT_DIGITS \
                and v["$i"].lstrip("-").isdigit() and v["$i"].isascii():
            return int(v["$i"])
        if "$h" in v and type(v["$h"]) is int and set(v) <= {"$h", "type"}:
            name = v.get("type", "")
            if not isinstance(name, str) or len(name) > 200:
                raise WireError("a handle's type name is malformed")
            return resolve_handle(v["$h"], name)
        raise WireError("a value is not in the wire format")

    return val(node, 0)


# ----------------------------------------------------------------------------- blocking fd helpers (child side)
def read_exact(fd, n):
    import os

    chunks, left = [], n
    while left:
        b = os.read(fd, min(left, 1 << 20))
        if not b:
            raise EOFError
        chunks.append(b)
        left -= len(b)
    return b"".join(chunks)


def write_all(fd, data):
    import os

    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_frame(fd, max_payload=1 << 34):
    """One whole frame from a blocking fd -> (header dict, payload bytes)."""
    prefix = read_exact(fd, HEAD.size)
    hlen, plen = frame_sizes(prefix, max_payload)
    header = load_header(read_exact(fd, hlen))
    return header, read_exact(fd, plen)
