"""The launcher's MongoDB probe: an OP_MSG `hello` and its reply, checked on bytes.

PyMongo's own BSON codec builds and reads the other side, so the launcher's small BSON
writer and reader are held to the real format.
"""

from __future__ import annotations

import contextlib
import struct
from datetime import UTC, datetime
from typing import Any

import bson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy.local.launcher import mongo_wire
from deploy.local.launcher.errors import NotReadyError


def reply(
    document: dict[str, Any], response_to: int = 1, opcode: int = mongo_wire.OP_MSG
) -> tuple[Any, bytes]:
    payload = struct.pack("<I", 0) + b"\x00" + bson.encode(document)
    header = mongo_wire.MessageHeader(16 + len(payload), 99, response_to, opcode)
    return header, payload


def test_hello_is_an_op_msg_with_one_body_section_for_the_admin_database() -> None:
    message = mongo_wire.hello_message(5)
    length, request_id, response_to, opcode = struct.unpack_from("<iiii", message)
    assert (length, request_id, response_to, opcode) == (len(message), 5, 0, 2013)
    assert message[16:21] == b"\x00\x00\x00\x00\x00"  # flagBits, section kind 0
    assert bson.decode(message[21:]) == {"hello": 1, "$db": "admin"}


def test_a_real_hello_reply_is_read_and_accepted() -> None:
    document = {
        "isWritablePrimary": True,
        "topologyVersion": {"processId": bson.ObjectId(), "counter": bson.Int64(0)},
        "maxBsonObjectSize": 16777216,
        "localTime": datetime.now(UTC),
        "saslSupportedMechs": ["SCRAM-SHA-256"],
        "ok": 1.0,
    }
    answer = mongo_wire.hello_reply(*reply(document), request_id=1)
    assert answer["isWritablePrimary"] is True
    assert answer["maxBsonObjectSize"] == 16777216
    assert answer["saslSupportedMechs"] == ["SCRAM-SHA-256"]


@pytest.mark.parametrize("ok", [1, 1.0, True, bson.Int64(1)])
def test_ok_counts_whatever_number_type_the_server_sends(ok: object) -> None:
    mongo_wire.hello_reply(*reply({"ok": ok}), request_id=1)


@pytest.mark.parametrize(
    "document",
    [{"ok": 0.0, "errmsg": "not yet"}, {"inner": {"ok": 1.0}}, {}],
)
def test_a_reply_without_a_top_level_ok_of_one_means_not_ready(document: dict[str, Any]) -> None:
    with pytest.raises(NotReadyError, match="without ok: 1"):
        mongo_wire.hello_reply(*reply(document), request_id=1)


def test_a_reply_to_another_request_or_of_another_opcode_is_refused() -> None:
    with pytest.raises(NotReadyError, match="unexpected MongoDB reply"):
        mongo_wire.hello_reply(*reply({"ok": 1.0}, response_to=2), request_id=1)
    with pytest.raises(NotReadyError, match="unexpected MongoDB reply"):
        mongo_wire.hello_reply(*reply({"ok": 1.0}, opcode=1), request_id=1)


@pytest.mark.parametrize("length", [0, 16, 60_000_000])
def test_a_header_with_an_impossible_length_is_not_mongodb(length: int) -> None:
    with pytest.raises(NotReadyError, match="not a MongoDB reply"):
        mongo_wire.parse_header(struct.pack("<iiii", length, 1, 1, 2013))


# Explicit alphabets: Hypothesis's default one costs seconds to build on a fresh checkout.
TEXT = st.text(alphabet="abc \n\t\x00é€😀", max_size=20)
scalars = st.one_of(
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    TEXT,
    st.booleans(),
    st.floats(allow_nan=False),
    st.none(),
)


@given(st.dictionaries(st.text(alphabet="abcxyz_$.é", max_size=10), scalars))
def test_the_bson_reader_agrees_with_pymongo_on_scalars(document: dict[str, Any]) -> None:
    assert mongo_wire.read_bson(bson.encode(document)) == document


@given(st.dictionaries(st.sampled_from(["hello", "$db", "n"]), st.one_of(st.integers(0, 2**31 - 1), TEXT)))
def test_the_bson_writer_is_read_back_by_pymongo(fields: dict[str, int | str]) -> None:
    assert bson.decode(mongo_wire.bson_document(fields)) == fields


@given(st.binary(max_size=64))
def test_garbage_is_not_ready_never_a_crash(garbage: bytes) -> None:
    with contextlib.suppress(NotReadyError):
        mongo_wire.read_bson(garbage)
