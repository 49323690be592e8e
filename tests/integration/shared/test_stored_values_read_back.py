"""What a service stores reads back exactly as it was stored, on the suite's own database server.

The local FerretDB is built with patches to how it reads documents back
(deploy/local/ferretdb/sjson-decoding.patch): strings, numbers, dates, binary, nested documents
and arrays must come back unchanged, whether read with `find` or through an update.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import Binary, Int64, ObjectId
from pymongo.asynchronous.database import AsyncDatabase

TRICKY_STRINGS = [
    "",
    "plain",
    'a "quoted" word',
    "back\\slash and a trailing one\\",
    "line\nbreak\tand tab\r",
    "\x00\x01\x1f control characters",
    "<b>&amp;</b> as html",
    "é, 中文, עברית",
    "emoji 🙂 outside the basic plane",
    "line\u2028and paragraph\u2029separators",
    "\\u00e9 written out, not escaped",
    '"',
    "\\",
]


def stored() -> dict[str, Any]:
    return {
        "_id": "client-0001",
        "strings": TRICKY_STRINGS,
        "numbers": {
            "int32": [0, -1, 2**31 - 1, -(2**31)],
            "int64": [Int64(2**31), Int64(2**63 - 1), Int64(-(2**63))],
            "double": [0.5, -0.0, 1e300, -2.5e-300, 3.0],
        },
        "flags": [True, False, None],
        "when": datetime(2026, 12, 8, 1, 2, 3, 456000, tzinfo=UTC),
        "blob": Binary(b"\x00\xff binary \x10", subtype=4),  # a UUID's subtype: read back as Binary
        "bytes": b"\x00\xff as bytes",
        "object_id": ObjectId("65a1b2c3d4e5f60718293a4b"),
        "nested": {"empty": {}, "list": [], "deep": [{"a": [{"b": "c", "d": {"e": [1, "f"]}}]}]},
    }


async def test_every_kind_of_value_reads_back_as_stored(mongo_db: AsyncDatabase[Any]) -> None:
    documents = mongo_db.get_collection(
        "values", codec_options=mongo_db.codec_options.with_options(tz_aware=True)
    )
    await documents.insert_one(stored())

    assert await documents.find_one({"_id": "client-0001"}) == stored()


async def test_a_document_changed_by_an_update_keeps_every_value_it_did_not_change(
    mongo_db: AsyncDatabase[Any],
) -> None:
    documents = mongo_db.get_collection(
        "values", codec_options=mongo_db.codec_options.with_options(tz_aware=True)
    )
    await documents.insert_one(stored())

    await documents.update_one({"_id": "client-0001"}, {"$set": {"revision": 2}})
    await documents.replace_one({"_id": "client-0001", "revision": 2}, {**stored(), "revision": 3})

    assert await documents.find_one({"_id": "client-0001"}) == {**stored(), "revision": 3}
