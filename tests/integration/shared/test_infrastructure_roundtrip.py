"""The real broker and database server the suite runs on: FastStream and AsyncMongoClient."""

import asyncio
from collections import defaultdict
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.messaging.broker import broker_security
from shared.messaging.topics import ensure_topics
from shared.observability.audit import Access, AuditLog
from shared.settings import KafkaSettings
from tests.support.kafka import eventually


async def test_keyed_messages_spread_over_partitions_and_keep_per_key_order_in_a_group(
    kafka_settings: KafkaSettings,
) -> None:
    await ensure_topics(kafka_settings, ["roundtrip"])
    topic = kafka_settings.topic("roundtrip")
    received: dict[str, list[int]] = defaultdict(list)
    partitions: set[int] = set()
    broker = KafkaBroker(
        kafka_settings.bootstrap_servers, enable_idempotence=True, security=broker_security(kafka_settings)
    )

    @broker.subscriber(topic, group_id=f"{topic}-group", auto_offset_reset="earliest")
    async def on_message(body: dict[str, Any], message: KafkaMessage) -> None:
        received[body["key"]].append(body["n"])
        partitions.add(message.raw_message.partition)

    await broker.start()
    try:
        keys = [f"client-{i}" for i in range(12)]
        for n in range(5):
            for key in keys:
                await broker.publish({"key": key, "n": n}, topic, key=key.encode())

        async def all_received() -> bool:
            return sum(len(v) for v in received.values()) == 60

        await eventually(all_received)
    finally:
        await broker.stop()
    assert all(received[key] == [0, 1, 2, 3, 4] for key in keys)
    assert len(partitions) > 1, "12 keys over 6 partitions use more than one"


async def test_unique_index_refuses_a_second_document_and_reads_return_the_first(
    mongo_db: AsyncDatabase[Any],
) -> None:
    sessions = mongo_db["sessions"]
    await sessions.create_index(
        [("therapist_id", 1), ("starts_at", 1)], unique=True, name="one_session_per_slot"
    )
    await sessions.insert_one({"_id": "s-1", "therapist_id": "t-1", "starts_at": "2026-12-01T15:00Z"})

    with pytest.raises(DuplicateKeyError):
        await sessions.insert_one({"_id": "s-2", "therapist_id": "t-1", "starts_at": "2026-12-01T15:00Z"})

    found = await sessions.find({"therapist_id": "t-1"}).to_list()
    assert [doc["_id"] for doc in found] == ["s-1"]


async def test_racing_inserts_of_the_same_key_let_exactly_one_win(mongo_db: AsyncDatabase[Any]) -> None:
    claims = mongo_db["claims"]

    async def claim(owner: str) -> str | None:
        try:
            await claims.insert_one({"_id": "slot-2026-12-01T15:00Z", "owner": owner})
        except DuplicateKeyError:
            return None
        return owner

    winners = [w for w in await asyncio.gather(*(claim(f"replica-{i}") for i in range(8))) if w]
    assert len(winners) == 1
    assert (await claims.find_one({"_id": "slot-2026-12-01T15:00Z"}))["owner"] == winners[0]


async def test_audit_trail_records_who_read_which_record_without_the_data(
    mongo_db: AsyncDatabase[Any],
) -> None:
    audit = AuditLog(mongo_db["audit"], service="intake")
    await audit.record(
        Access(
            actor="therapist-1",
            role="clinician",
            action="read",
            resource="intake",
            resource_id="intake-1",
            client_id="c-1",
        )
    )
    (entry,) = await mongo_db["audit"].find({}).to_list()
    assert {k: entry[k] for k in ("actor", "role", "action", "resource", "resource_id", "client_id")} == {
        "actor": "therapist-1",
        "role": "clinician",
        "action": "read",
        "resource": "intake",
        "resource_id": "intake-1",
        "client_id": "c-1",
    }
