"""Hostile records on every consumed topic: each is dead-lettered with its reason, no partition stops.

The four services run in-process on one topic prefix (each on a database of its own), as
they do in production. On every topic the registry lists consumers for, one key (so one
partition) gets, in order: a value that is not JSON, JSON that is not an object, a valid
event whose envelope has a mistyped header (`ce_time`), an event with a wrong-typed field
(its key field as a number), a record with a null header, one with a header that is not
UTF-8, one near the broker's 1 MiB limit (far over `MAX_RECORD_BYTES`: before the limit,
its dead letter was too big to write and the partition stopped at it for good), and then
one valid event. Every consumer of the topic must dead-letter each bad record with its
reason and commit past the valid one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import BaseModel
from pymongo import AsyncMongoClient

from shared.events.common import WeeklyWindow
from shared.events.envelope import OutgoingEvent
from shared.events.models import TherapistAvailabilityChanged
from shared.events.registry import EVENTS, EventSpec
from shared.messaging.broker import kafka_connection_options
from shared.messaging.dead_letters import DLQ_HEADERS, MAX_RECORD_BYTES
from shared.messaging.subscriptions import group_for
from shared.settings import KafkaSettings
from tests.integration.intake.service import running_intake
from tests.integration.matching.service import running_matching
from tests.integration.notifications.service import running_notifications
from tests.integration.scheduling.service import running_scheduling, scheduling_settings
from tests.support.fault_results import write_result
from tests.support.infrastructure import Infrastructure
from tests.support.isolation import isolated_place
from tests.support.kafka import TopicRecorder, event, eventually
from tests.unit.notifications import samples

CONSUMED = [spec for spec in EVENTS if spec.consumers]
NEAR_BROKER_LIMIT = 1_040_000
"""A value the broker takes (its `message.max.bytes` is 1 MiB) and no consumer should."""


def valid_data(spec: EventSpec, key: str) -> BaseModel:
    """A valid event of `spec` about the subject `key`."""
    if spec.model is TherapistAvailabilityChanged:
        return TherapistAvailabilityChanged(
            therapist_id=key,
            timezone="UTC",
            weekly=[WeeklyWindow(day="mon", start="09:00", end="17:00")],  # type: ignore[arg-type]
            changed_at=datetime.now(UTC),
        )
    sample: Callable[..., BaseModel] = getattr(samples, spec.name.replace("-", "_"))
    return sample().model_copy(update={spec.key_field: key})


@dataclass(frozen=True)
class Hostile:
    """One bad record and what its dead letter must say."""

    name: str
    value: bytes
    headers: list[tuple[str, bytes | None]]
    reason: str
    error: str


def hostile_records(spec: EventSpec, key: str) -> tuple[list[Hostile], OutgoingEvent]:
    """The bad records for `spec`'s topic, and the valid event that follows them."""
    valid = event(valid_data(spec, key))
    headers = [(name, text.encode()) for name, text in valid.envelope.to_headers().items()]

    def fresh(*, replace: dict[str, bytes | None] | None = None) -> list[tuple[str, bytes | None]]:
        changes = {"ce_id": str(uuid.uuid4()).encode(), **(replace or {})}
        return [(name, changes.get(name, value)) for name, value in headers] + [
            (name, value) for name, value in changes.items() if name not in dict(headers)
        ]

    mistyped = json.loads(valid.value()) | {spec.key_field: 12345}
    oversized = json.dumps({"padding": "x" * NEAR_BROKER_LIMIT}).encode()
    oversized_headers = fresh()
    size = len(key) + len(oversized) + sum(len(name) + len(value or b"") for name, value in oversized_headers)
    bad = [
        Hostile("not JSON", b'{"client_id": "c', fresh(), "invalid_event", "ValidationError: <root>"),
        Hostile("not an object", b"[1, 2, 3]", fresh(), "invalid_event", "ValidationError: <root>"),
        Hostile(
            "mistyped envelope",
            valid.value(),
            fresh(replace={"ce_time": b"yesterday"}),
            "invalid_event",
            "EnvelopeError: ce_time",
        ),
        Hostile(
            "wrong-typed field",
            json.dumps(mistyped).encode(),
            fresh(),
            "invalid_event",
            f"ValidationError: {spec.key_field}",
        ),
        Hostile(
            "null header",
            valid.value(),
            fresh(replace={"ce_source": None}),
            "unreadable_record",
            "AttributeError",
        ),
        Hostile(
            "header not UTF-8",
            valid.value(),
            fresh(replace={"ce_subject": b"\xff\xfe"}),
            "unreadable_record",
            "UnicodeDecodeError",
        ),
        Hostile(
            "oversized",
            oversized,
            oversized_headers,
            "oversized_record",
            f"OversizedRecord: {size} bytes, more than {MAX_RECORD_BYTES}",
        ),
    ]
    return bad, valid


@dataclass(frozen=True)
class Sent:
    spec: EventSpec
    partition: int
    bad: dict[int, Hostile]  # offset -> record
    valid_offset: int


@dataclass
class FourServices:
    kafka: KafkaSettings
    groups: dict[str, str]  # service name -> group id


@pytest.fixture(scope="module")
async def four_services(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[FourServices]:
    async with isolated_place(infrastructure, mongo_client, "hostile") as place, AsyncExitStack() as stack:
        databases = {name: f"{place.database}_{name}" for name in ("intake", "matching", "sched", "notif")}
        stack.push_async_callback(_drop, mongo_client, list(databases.values()))
        intake = await stack.enter_async_context(
            running_intake(place.kafka, place.mongo, databases["intake"])
        )
        matching = await stack.enter_async_context(
            running_matching(place.kafka, place.mongo, databases["matching"])
        )
        scheduling = await stack.enter_async_context(
            running_scheduling(scheduling_settings(place.kafka, place.mongo, databases["sched"]))
        )
        notifications = await stack.enter_async_context(
            running_notifications(place.kafka, place.mongo, databases["notif"])
        )
        services = (intake, matching, scheduling, notifications)
        yield FourServices(place.kafka, {s.settings.service_name: s.settings.group_id for s in services})


async def _drop(mongo_client: AsyncMongoClient[Any], databases: list[str]) -> None:
    for name in databases:
        await mongo_client.drop_database(name)


async def send_all(kafka: KafkaSettings) -> list[Sent]:
    producer = AIOKafkaProducer(**kafka_connection_options(kafka), acks="all", max_request_size=2**21)
    await producer.start()
    sent: list[Sent] = []
    try:
        for spec in CONSUMED:
            key = f"hostile-{uuid.uuid4().hex[:8]}"
            bad, valid = hostile_records(spec, key)
            topic = kafka.topic(spec.topic)
            offsets: dict[int, Hostile] = {}
            partition = -1
            for record in bad:
                meta = await producer.send_and_wait(
                    topic, value=record.value, key=key.encode(), headers=record.headers
                )
                offsets[meta.offset], partition = record, meta.partition
            valid_headers = [(n, v.encode()) for n, v in valid.envelope.to_headers().items()]
            meta = await producer.send_and_wait(
                topic, value=valid.value(), key=key.encode(), headers=valid_headers
            )
            assert meta.partition == partition
            sent.append(Sent(spec, partition, offsets, meta.offset))
    finally:
        await producer.stop()
    return sent


def dead_letters_by(
    recorder: TopicRecorder, kafka: KafkaSettings, s: Sent, group: str
) -> dict[int, dict[str, str]]:
    """The dead letters `group` wrote for `s`'s topic, by original offset: their headers."""
    topic = kafka.topic(s.spec.dead_letter_topic)
    found = {}
    for record in recorder.records:
        headers = {name: (value or b"").decode() for name, value in record.headers}
        if record.topic == topic and headers.get(DLQ_HEADERS.consumer) == group:
            found[int(headers[DLQ_HEADERS.original_offset])] = headers
    return found


async def test_every_consumer_dead_letters_each_hostile_record_with_its_reason_and_moves_on(
    four_services: FourServices,
) -> None:
    kafka = four_services.kafka
    recorder = TopicRecorder(kafka, [spec.dead_letter_topic for spec in CONSUMED])
    await recorder.start()
    admin = AIOKafkaAdminClient(**kafka_connection_options(kafka))
    await admin.start()
    try:
        sent = await send_all(kafka)
        expected = [(s, four_services.groups[consumer]) for s in sent for consumer in s.spec.consumers]

        async def committed_past_valid(s: Sent, group: str) -> bool:
            offsets = await admin.list_consumer_group_offsets(group_for(group, s.spec))
            position = offsets.get(TopicPartition(kafka.topic(s.spec.topic), s.partition))
            return position is not None and position.offset > s.valid_offset

        async def every_partition_moved_on() -> bool:
            return all([await committed_past_valid(s, group) for s, group in expected])

        async def every_bad_record_dead_lettered() -> bool:
            return all(set(s.bad) <= set(dead_letters_by(recorder, kafka, s, group)) for s, group in expected)

        await eventually(every_partition_moved_on, timeout=60.0, interval=0.5)
        await eventually(every_bad_record_dead_lettered, timeout=30.0, interval=0.2)
    finally:
        await admin.close()
        await recorder.stop()

    for s, group in expected:
        dead = dead_letters_by(recorder, kafka, s, group)
        # Committed past and not dead-lettered: the pipeline handled the valid event.
        assert s.valid_offset not in dead, f"{group} dead-lettered the valid {s.spec.name}"
        for offset, hostile in s.bad.items():
            said = (dead[offset][DLQ_HEADERS.reason], dead[offset][DLQ_HEADERS.error])
            assert said[0] == hostile.reason, f"{group}, {s.spec.name}, {hostile.name}: {said}"
            assert said[1].startswith(hostile.error), f"{group}, {s.spec.name}, {hostile.name}: {said}"
    counts = {
        "topics": len(sent),
        "(topic, consumer) pairs": len(expected),
        "hostile records dead-lettered": sum(len(s.bad) for s, _ in expected),
        "valid events handled after them": len(expected),
        "partitions stuck": 0,
    }
    write_result("hostile-records", {"counts": counts})
