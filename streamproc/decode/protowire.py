"""The protobuf wire format's pieces (varints, tags, lengths, skipping a field) for decoders that read
messages straight from their bytes (`otlp_wire`), with the protobuf runtime's limits: a varint of at most
ten bytes, a tag or a length of at most five, a tag within 32 bits, field numbers from 1, wire types 0 to 5,
balanced groups, nesting to 100 levels. Every violation raises WireFormatError naming the byte.
"""

from __future__ import annotations

#: Wire types.
VARINT = 0
FIXED64 = 1
LENGTH = 2
START_GROUP = 3
END_GROUP = 4
FIXED32 = 5

#: The protobuf runtime's nesting limit (messages and groups below the request).
MAX_DEPTH = 100

_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF


class WireFormatError(ValueError):
    """The bytes are not a message of the type read (for a receiver: the whole request is refused)."""


def corrupt(what: str, pos: int) -> WireFormatError:
    return WireFormatError(f"wire format corrupt at byte {pos}: {what}")


def read_varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """The varint at `pos` (at most ten bytes, kept to 64 bits as the runtime does) and the position after."""
    if pos >= end:
        raise corrupt("truncated varint", pos)
    byte = data[pos]
    if byte < 0x80:
        return byte, pos + 1
    value = byte & 0x7F
    shift = 7
    at = pos + 1
    while True:
        if at >= end:
            raise corrupt("truncated varint", pos)
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value & _MASK64, at
        shift += 7
        if shift > 63:
            raise corrupt("varint longer than ten bytes", pos)


def read_varint32(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """A tag's or a length's varint: at most five bytes, as the runtime reads them."""
    value = 0
    shift = 0
    at = pos
    while at < end:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7
        if shift >= 35:
            raise corrupt("a tag or length longer than five bytes", pos)
    raise corrupt("truncated varint", pos)


def read_tag(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """The tag at `pos` (field number << 3 | wire type), checked, and the position after it."""
    byte = data[pos]
    if byte < 0x80:
        tag, at = byte, pos + 1
    else:
        tag, at = read_varint32(data, pos, end)
        if tag > _MASK32:
            raise corrupt("tag beyond 32 bits", pos)
    if tag < 8:
        raise corrupt("field number 0", pos)
    if (tag & 7) > FIXED32:
        raise corrupt(f"wire type {tag & 7}", pos)
    return tag, at


def read_length(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """The start and end of the length-delimited field whose length is at `pos`."""
    byte = data[pos] if pos < end else 0x80
    if byte < 0x80:
        start, size = pos + 1, byte
    else:
        size, start = read_varint32(data, pos, end)
    if size > end - start:
        raise corrupt("length past the end of its message", pos)
    return start, start + size


def read_fixed64(data: bytes, pos: int, end: int) -> int:
    if pos + 8 > end:
        raise corrupt("truncated fixed64", pos)
    # Byte by byte, not int.from_bytes of a slice: compiled, this is native arithmetic and allocates nothing
    # (a span's two timestamps: the decoder's costliest field before this).
    low = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16 | data[pos + 3] << 24
    high = data[pos + 4] | data[pos + 5] << 8 | data[pos + 6] << 16 | data[pos + 7] << 24
    return low | high << 32


def skip_field(data: bytes, pos: int, end: int, tag: int, depth: int) -> int:
    """The position after the value of a field this decoder does not read (its tag already read)."""
    wire = tag & 7
    if wire == VARINT:
        return read_varint(data, pos, end)[1]
    if wire == LENGTH:
        return read_length(data, pos, end)[1]
    if wire == FIXED64:
        if pos + 8 > end:
            raise corrupt("truncated fixed64", pos)
        return pos + 8
    if wire == FIXED32:
        if pos + 4 > end:
            raise corrupt("truncated fixed32", pos)
        return pos + 4
    if wire == START_GROUP:
        if depth >= MAX_DEPTH:
            raise corrupt("nested too deep", pos)
        while pos < end:
            inner, pos = read_tag(data, pos, end)
            if inner & 7 == END_GROUP:
                if inner >> 3 != tag >> 3:
                    raise corrupt("group ends with another field's number", pos)
                return pos
            pos = skip_field(data, pos, end, inner, depth + 1)
        raise corrupt("group without its end", pos)
    raise corrupt("end of a group that did not start", pos)


def read_text(data: bytes, start: int, end: int) -> str:
    try:
        return data[start:end].decode("utf-8")
    except UnicodeDecodeError:
        raise corrupt("a string that is not UTF-8", start) from None


def int32(value: int) -> int:
    """An enum's varint as the int32 it is."""
    value &= _MASK32
    return value - (1 << 32) if value >= 1 << 31 else value


def count_path(data: bytes, path: tuple[int, ...]) -> int:
    """How many length-delimited fields the path of field numbers reaches (0 if the framing is broken)."""
    try:
        return _count(data, 0, len(data), path, 0)
    except WireFormatError:
        return 0


def _count(data: bytes, pos: int, end: int, path: tuple[int, ...], level: int) -> int:
    count = 0
    wanted = path[level] << 3 | LENGTH
    while pos < end:
        tag, pos = read_tag(data, pos, end)
        if tag == wanted:
            start, pos = read_length(data, pos, end)
            count += 1 if level == len(path) - 1 else _count(data, start, pos, path, level + 1)
        else:
            pos = skip_field(data, pos, end, tag, level)
    return count
