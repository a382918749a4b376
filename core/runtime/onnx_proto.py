"""Just enough of the protobuf wire format to edit an ONNX file's bytes without the ``onnx``
package (importing it holds the GIL for up to 1.4 s: core.runtime.onnx_export): append
fields to a message, read a message's top-level fields, and put a network's weights into a
graph exported without them.

Why the weights go in here: torch's TorchScript exporter serialises the graph and its weights
in one C++ call that holds the GIL throughout (0.1-0.8 s for ResNet-18's 45 MB on 2 busy
cores), and every other thread waits meanwhile, the window's event loop too (issue 27).
Exported without weights, that call takes a millisecond; the weights are then added here
without being copied at all: the file is a list of pieces (:data:`Pieces`), the weights' own
memory among them, written one after the other, the GIL let go during each write. (Joined
into one ``bytes``, 45 MB copied several times held the GIL ~0.1 s a copy on 2 busy cores.)"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping

import numpy as np

#: A protobuf message as pieces in order (``b"".join(pieces)`` is its bytes): small headers,
#: and large payloads as memoryviews of the arrays holding them (never copied).
Pieces = list[bytes | memoryview]

# TensorProto.DataType of the numpy types a network's weights come in
_DATA_TYPES = {
    np.dtype(np.float32): 1,
    np.dtype(np.uint8): 2,
    np.dtype(np.int8): 3,
    np.dtype(np.int32): 6,
    np.dtype(np.int64): 7,
    np.dtype(np.bool_): 9,
    np.dtype(np.float16): 10,
    np.dtype(np.float64): 11,
}
_LEN = 2  # wire type of strings, bytes and messages
_GRAPH, _INITIALIZER, _INPUT, _NAME = 7, 5, 11, 1  # ModelProto.graph, GraphProto's, names


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field."""
    return varint(number << 3 | _LEN) + varint(len(payload)) + payload


def size(pieces: Pieces) -> int:
    return sum(p.nbytes if isinstance(p, memoryview) else len(p) for p in pieces)


def field_pieces(number: int, payload: Pieces) -> Pieces:
    """:func:`field` of a payload in pieces, the payload not copied."""
    return [varint(number << 3 | _LEN) + varint(size(payload)), *payload]


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def read_fields(data: bytes) -> Iterator[tuple[int, int, bytes | int, bytes]]:
    """(field number, wire type, value, the field's whole bytes) of a message's fields; the
    value of a length-delimited field is its payload."""
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == _LEN:
            size, pos = _read_varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        elif wire in (1, 5):  # 64- and 32-bit fixed
            width = 8 if wire == 1 else 4
            value, pos = data[pos : pos + width], pos + width
        else:
            raise ValueError(f"protobuf wire type {wire} is not expected in an ONNX model")
        yield number, wire, value, data[start:pos]


def _name(value_info: bytes) -> str:
    for number, wire, value, _raw in read_fields(value_info):
        if number == _NAME and wire == _LEN:
            return value.decode()
    return ""


def tensor_proto(name: str, array: np.ndarray) -> Pieces:
    """A TensorProto of ``array`` (little-endian raw data: the array's own memory, not a
    copy), or ValueError for a type ONNX files here do not hold."""
    kind = _DATA_TYPES.get(array.dtype)
    if kind is None or sys.byteorder != "little":
        raise ValueError(f"{name}: {array.dtype} weights are not written here")
    dims = b"".join(varint(1 << 3) + varint(d) for d in array.shape)
    head = dims + varint(2 << 3) + varint(kind) + field(8, name.encode())
    raw = np.ascontiguousarray(array).reshape(-1).view(np.uint8).data
    return [head + varint(9 << 3 | _LEN) + varint(raw.nbytes), raw]


def with_initializers(model: bytes, weights: Mapping[str, np.ndarray]) -> Pieces:
    """``model`` (an ONNX file's bytes) with each of ``weights`` as an initializer of its
    graph, no longer a graph input: a graph exported without its weights made whole, as
    pieces (the weights' memory itself: keep the arrays unchanged until the pieces are
    written). Raises ValueError where a graph input other than the first (the images) has no
    weight."""
    parts: list[bytes] = []
    graph = b""
    for number, wire, value, raw in read_fields(model):
        if number == _GRAPH and wire == _LEN:
            graph = value
        else:
            parts.append(raw)
    kept: Pieces = []
    names: list[str] = []  # the graph inputs that are weights (the exporter's, deduplicated)
    images = True  # the first input is the images
    for number, wire, value, raw in read_fields(graph):
        if number == _INPUT and wire == _LEN and not images:
            names.append(_name(value))
            if names[-1] not in weights:
                raise ValueError(f"the graph input {names[-1]!r} is not one of the weights")
            continue
        images = images and not (number == _INPUT and wire == _LEN)
        kept.append(raw)
    for n in names:
        kept += field_pieces(_INITIALIZER, tensor_proto(n, weights[n]))
    return [b"".join(parts), *field_pieces(_GRAPH, kept)]
