"""A record too big for a consumer, or with a null header, still makes a dead letter that can be written.

The broker takes records up to about 1 MiB; one that size with the `dlq_*` headers added
is more than a producer may send, and a dead letter that cannot be written stops its
partition for good. So an oversized record's dead letter goes without its value.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from shared.messaging.dead_letters import (
    DLQ_HEADERS,
    MAX_RECORD_BYTES,
    DeadLetters,
    OversizedRecord,
    dead_letter_error,
    record_bytes,
)


class RecordingBroker:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish(self, value: bytes, **options: Any) -> None:
        self.published.append({"value": value, **options})


def record(*, key: bytes = b"client-1", value: bytes = b"{}", headers: list[Any] | None = None) -> Any:
    return SimpleNamespace(
        topic="session-booked",
        partition=0,
        offset=7,
        key=key,
        value=value,
        headers=headers if headers is not None else [("ce_id", b"event-1"), ("x-padding", b"p" * 10)],
    )


async def dead_letter(failed: Any, error: BaseException) -> dict[str, Any]:
    broker = RecordingBroker()
    await DeadLetters(broker, consumer="scheduling").send(  # type: ignore[arg-type]
        failed, reason="oversized_record", error=error, attempts=0
    )
    (published,) = broker.published
    return published


def test_a_record_counts_its_key_value_and_every_header() -> None:
    assert record_bytes(record(key=b"k", value=b"vv", headers=[("h", b"123"), ("n", None)])) == 1 + 2 + 4 + 1


async def test_an_oversized_record_is_dead_lettered_without_its_value_or_foreign_headers() -> None:
    huge = record(
        key=b"k" * 2000,
        value=b"v" * (MAX_RECORD_BYTES + 1),
        headers=[("ce_id", b"event-1"), ("ce_subject", b"s" * 5000), ("x-padding", b"p" * 900_000)],
    )
    error = OversizedRecord(record_bytes(huge), MAX_RECORD_BYTES)
    published = await dead_letter(huge, error)
    assert published["value"] == b"" and published["key"] is None
    assert published["headers"]["ce_id"] == "event-1" and len(published["headers"]["ce_subject"]) == 256
    assert "x-padding" not in published["headers"]
    assert published["headers"][DLQ_HEADERS.original_offset] == "7"
    assert published["headers"][DLQ_HEADERS.error] == (
        f"OversizedRecord: {record_bytes(huge)} bytes, more than {MAX_RECORD_BYTES}"
    )


async def test_a_record_within_the_limit_keeps_its_key_value_and_headers_byte_for_byte() -> None:
    published = await dead_letter(record(value=b'{"a": 1}'), ValueError("no"))
    assert (published["key"], published["value"]) == (b"client-1", b'{"a": 1}')
    assert published["headers"]["x-padding"] == "p" * 10


async def test_a_null_header_is_kept_empty_rather_than_failing_the_dead_letter() -> None:
    published = await dead_letter(record(headers=[("ce_id", b"event-1"), ("ce_source", None)]), KeyError())
    assert published["headers"]["ce_source"] == ""


def test_an_oversized_records_error_says_sizes_only() -> None:
    assert (
        dead_letter_error(OversizedRecord(300_000, 262_144))
        == "OversizedRecord: 300000 bytes, more than 262144"
    )
