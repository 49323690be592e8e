"""Just enough of the MongoDB wire protocol to prove a server serves: OP_MSG `hello`.

Pure functions on bytes (the socket round trip is in probes.py), unit-tested on
hand-built messages. The reply is read with a small BSON reader rather than searched for
bytes, so an `ok` sent as an integer counts, and an `ok` inside a nested document does not.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import NamedTuple

from deploy.local.launcher.errors import NotReadyError

OP_MSG = 2013
HEADER = struct.Struct("<iiii")  # messageLength, requestID, responseTo, opCode
MAX_MESSAGE = 48 * 1000 * 1000  # MongoDB's maxMessageSizeBytes


class MessageHeader(NamedTuple):
    length: int
    request_id: int
    response_to: int
    opcode: int


def bson_document(fields: Mapping[str, int | str]) -> bytes:
    """BSON with int32 and string fields only: enough to send a command."""
    elements = bytearray()
    for name, value in fields.items():
        key = name.encode() + b"\x00"
        if isinstance(value, int):
            elements += b"\x10" + key + struct.pack("<i", value)
        else:
            raw = value.encode() + b"\x00"
            elements += b"\x02" + key + struct.pack("<i", len(raw)) + raw
    return struct.pack("<i", len(elements) + 5) + bytes(elements) + b"\x00"


def hello_message(request_id: int) -> bytes:
    """OP_MSG: flagBits 0, one kind-0 section holding {hello: 1, $db: "admin"}."""
    payload = struct.pack("<I", 0) + b"\x00" + bson_document({"hello": 1, "$db": "admin"})
    return HEADER.pack(HEADER.size + len(payload), request_id, 0, OP_MSG) + payload


def parse_header(raw: bytes) -> MessageHeader:
    header = MessageHeader(*HEADER.unpack(raw))
    if not HEADER.size < header.length <= MAX_MESSAGE:
        raise NotReadyError(f"not a MongoDB reply (message length {header.length})")
    return header


def hello_reply(header: MessageHeader, payload: bytes, request_id: int) -> dict[str, object]:
    """The reply document of a `hello`, or NotReadyError unless it is an OP_MSG with ok: 1."""
    if header.opcode != OP_MSG or header.response_to != request_id:
        raise NotReadyError(f"unexpected MongoDB reply (opcode {header.opcode}, to {header.response_to})")
    if len(payload) < 5 or payload[4] != 0:
        raise NotReadyError("MongoDB reply has no body section")
    reply = read_bson(payload[5:])
    if reply.get("ok") not in (1, 1.0):  # True == 1 too
        raise NotReadyError(f"MongoDB answered hello without ok: 1 ({reply.get('errmsg', 'no message')})")
    return reply


def read_bson(data: bytes) -> dict[str, object]:
    """Decode a BSON document; scalars it has no use for (ObjectId, dates, binary...) read as None."""
    try:
        document, _ = read_document(data, 0)
    except (struct.error, IndexError, UnicodeDecodeError, ValueError):
        raise NotReadyError("malformed BSON in the MongoDB reply") from None
    return document


def read_document(data: bytes, start: int) -> tuple[dict[str, object], int]:
    (size,) = struct.unpack_from("<i", data, start)
    end = start + size
    if size < 5 or end > len(data) or data[end - 1] != 0:
        raise ValueError("bad document size")
    fields: dict[str, object] = {}
    offset = start + 4
    while offset < end - 1:
        kind = data[offset]
        name_end = data.index(b"\x00", offset + 1)
        name = data[offset + 1 : name_end].decode()
        fields[name], offset = read_value(kind, data, name_end + 1)
    return fields, end


FIXED_SIZES = {0x07: 12, 0x09: 8, 0x11: 8, 0x13: 16, 0x06: 0, 0xFF: 0, 0x7F: 0}


def read_value(kind: int, data: bytes, offset: int) -> tuple[object, int]:
    """One element's value and the offset after it."""
    if kind == 0x01:
        return struct.unpack_from("<d", data, offset)[0], offset + 8
    if kind in (0x02, 0x0D, 0x0E):  # string, JavaScript, symbol
        (length,) = struct.unpack_from("<i", data, offset)
        return data[offset + 4 : offset + 4 + length - 1].decode(), offset + 4 + length
    if kind in (0x03, 0x04):
        document, end = read_document(data, offset)
        return (list(document.values()) if kind == 0x04 else document), end
    if kind == 0x05:  # binary: length, subtype, bytes
        (length,) = struct.unpack_from("<i", data, offset)
        return None, offset + 5 + length
    if kind == 0x08:
        return data[offset] == 1, offset + 1
    if kind == 0x0A:
        return None, offset
    if kind == 0x0B:  # regex: two C strings
        return None, data.index(b"\x00", data.index(b"\x00", offset) + 1) + 1
    if kind == 0x10:
        return struct.unpack_from("<i", data, offset)[0], offset + 4
    if kind == 0x12:
        return struct.unpack_from("<q", data, offset)[0], offset + 8
    if kind in FIXED_SIZES:
        return None, offset + FIXED_SIZES[kind]
    raise ValueError(f"unsupported BSON type {kind:#x}")
