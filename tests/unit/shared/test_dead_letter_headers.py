"""Dead-letter headers: named once, written by `DeadLetters`, stripped again on replay."""

from __future__ import annotations

from dataclasses import asdict
from types import SimpleNamespace
from typing import Any

from shared.messaging.dead_letters import DLQ_HEADERS, DeadLetters


class RecordingBroker:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish(self, value: bytes, **options: Any) -> None:
        self.published.append({"value": value, **options})


def failed_record() -> SimpleNamespace:
    return SimpleNamespace(
        topic="session-booked",
        partition=2,
        offset=41,
        key=b"client-1",
        value=b'{"session_id": "s-1"}',
        headers=[("ce_id", b"event-1"), ("correlation_id", b"journey-1")],
    )


async def dead_letter(record: SimpleNamespace) -> dict[str, Any]:
    broker = RecordingBroker()
    await DeadLetters(broker, consumer="scheduling").send(  # type: ignore[arg-type]
        record, reason="retries_exhausted", error=ConnectionError("down"), attempts=3
    )
    (published,) = broker.published
    return published


async def test_dead_letter_carries_every_named_header_with_the_failure() -> None:
    headers = (await dead_letter(failed_record()))["headers"]
    assert set(asdict(DLQ_HEADERS).values()) <= set(headers)
    assert headers[DLQ_HEADERS.reason] == "retries_exhausted"
    assert headers[DLQ_HEADERS.original_topic] == "session-booked"
    assert headers[DLQ_HEADERS.original_partition] == "2"
    assert headers[DLQ_HEADERS.original_offset] == "41"
    assert headers[DLQ_HEADERS.attempts] == "3"
    assert headers[DLQ_HEADERS.consumer] == "scheduling"


async def test_dead_letter_keeps_the_original_key_value_and_headers() -> None:
    published = await dead_letter(failed_record())
    assert published["topic"] == "session-booked.dlq"
    assert published["key"] == b"client-1"
    assert published["value"] == b'{"session_id": "s-1"}'
    assert published["headers"]["ce_id"] == "event-1"
    assert published["correlation_id"] == "journey-1"


async def test_replay_strips_exactly_the_headers_a_dead_letter_added() -> None:
    headers = (await dead_letter(failed_record()))["headers"]
    kept = {name for name in headers if not DLQ_HEADERS.added_by_dead_letter(name)}
    assert kept == {"ce_id", "correlation_id"}
