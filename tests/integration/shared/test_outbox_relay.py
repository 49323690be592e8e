"""The outbox: a crash anywhere loses nothing, and each event arrives once in effect."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.events.common import RiskLevel
from shared.events.envelope import Envelope, new_event
from shared.events.models import RiskFlagged
from shared.events.registry import spec_for
from shared.messaging.subscriptions import Subscription
from shared.settings import KafkaSettings, MongoSettings
from shared.storage.documents import DocumentStore, Revision
from shared.storage.locks import Locks
from shared.storage.outbox import (
    OUTBOX,
    OUTBOX_PENDING,
    OutboxRelay,
    PendingEvent,
    _pending_events,
    with_outbox,
)
from tests.support.infrastructure import REPO, Infrastructure
from tests.support.kafka import eventually, publish_raw, read_records
from tests.support.runtime import build_runtime

RISK = spec_for(RiskFlagged)


def risk_flagged(intake_id: str, client_id: str = "client-1") -> RiskFlagged:
    return RiskFlagged(
        intake_id=intake_id,
        client_id=client_id,
        risk_level=RiskLevel.high,
        reasons=["phq9_item9_positive"],
        flagged_at=datetime.now(UTC),
    )


async def test_event_stored_by_a_process_that_died_before_publishing_is_published_once(
    infrastructure: Infrastructure,
    kafka_settings: KafkaSettings,
    mongo_settings: MongoSettings,
    mongo_db: AsyncDatabase[Any],
) -> None:
    crashed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.crashing_writer",
            infrastructure.mongodb_uri,
            mongo_db.name,
            "intake-crash",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert crashed.returncode == 17, crashed.stderr
    event_id = crashed.stdout.strip()
    stored = await mongo_db["intakes"].find_one({"_id": "intake-crash"})
    assert stored is not None and stored[OUTBOX_PENDING] == 1

    restarted = build_runtime(
        kafka_settings, mongo_settings, mongo_db.name, produces=[RISK], outbox_collections=["intakes"]
    )
    await restarted.start()
    try:
        records = await read_records(
            kafka_settings, kafka_settings.topic("risk-flagged"), expect=1, settle=2.0
        )
    finally:
        await restarted.stop()

    assert [dict(r.headers)["ce_id"].decode() for r in records] == [event_id]
    assert records[0].key == b"client-crash"
    after = await mongo_db["intakes"].find_one({"_id": "intake-crash"})
    assert after is not None and after[OUTBOX_PENDING] == 0 and after[OUTBOX] == {}


async def test_relay_that_died_after_publishing_republishes_and_the_inbox_handles_it_once(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    flagged = new_event(risk_flagged("intake-dup"), source="intake")
    await mongo_db["intakes"].insert_one(with_outbox({"_id": "intake-dup"}, [flagged]))
    producer = build_runtime(kafka_settings, mongo_settings, mongo_db.name, produces=[RISK])
    await producer.start()
    # What a relay killed between the broker's confirmation and its own write leaves:
    # the event is on the topic, and the outbox still lists it as pending.
    (pending,) = _pending_events(await mongo_db["intakes"].find_one({"_id": "intake-dup"}))
    await publish_raw(
        kafka_settings,
        kafka_settings.topic(pending.topic),
        [(pending.key.encode(), pending.value, pending.headers)],
    )
    assert (await mongo_db["intakes"].find_one({"_id": "intake-dup"}))[OUTBOX_PENDING] == 1

    handled: list[str] = []

    async def on_risk_flagged(data: RiskFlagged, envelope: Envelope) -> None:
        handled.append(envelope.id)

    consumer = build_runtime(
        kafka_settings,
        mongo_settings,
        mongo_db.name,
        subscriptions=[Subscription(RiskFlagged, on_risk_flagged)],
        outbox_collections=["intakes"],
    )
    await consumer.start()
    try:

        async def relayed() -> bool:
            doc = await mongo_db["intakes"].find_one({"_id": "intake-dup"})
            return doc is not None and doc[OUTBOX_PENDING] == 0

        await eventually(relayed)
        records = await read_records(kafka_settings, kafka_settings.topic("risk-flagged"), expect=2)
        await eventually(lambda: _truthy(handled))
    finally:
        await consumer.stop()
        await producer.stop()
    assert [dict(r.headers)["ce_id"].decode() for r in records] == [flagged.envelope.id] * 2
    assert handled == [flagged.envelope.id]


async def test_events_of_one_document_are_published_in_the_order_they_were_written(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    first = [new_event(risk_flagged(f"intake-{i}"), source="intake") for i in range(3)]
    later = [new_event(risk_flagged(f"intake-{i}"), source="intake") for i in range(3, 6)]
    writer = DocumentStore(mongo_db["intakes"], Locks(mongo_db["locks"]), owner="writer")  # no relay yet
    await writer.insert({"_id": "client-1-doc"}, first)
    await writer.update("client-1-doc", lambda document: Revision({**document, "v": 2}, later))
    runtime = build_runtime(
        kafka_settings, mongo_settings, mongo_db.name, produces=[RISK], outbox_collections=["intakes"]
    )
    await runtime.start()
    try:
        records = await read_records(kafka_settings, kafka_settings.topic("risk-flagged"), expect=6)
    finally:
        await runtime.stop()
    assert [dict(r.headers)["ce_id"].decode() for r in records] == [e.envelope.id for e in first + later]
    assert len({r.partition for r in records}) == 1


async def test_a_document_leased_by_a_dead_relay_is_published_after_the_lease_expires(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    flagged = new_event(risk_flagged("intake-leased"), source="intake")
    await mongo_db["intakes"].insert_one(with_outbox({"_id": "intake-leased"}, [flagged]))
    # A relay takes the document's lease (2 s) and dies without publishing.
    dead = await Locks(mongo_db["locks"]).try_acquire(
        "intakes/intake-leased", "dead-relay", timedelta(seconds=2)
    )
    assert dead is not None

    runtime = build_runtime(
        kafka_settings, mongo_settings, mongo_db.name, produces=[RISK], outbox_collections=["intakes"]
    )
    await runtime.start()
    try:
        await asyncio.sleep(0.5)  # several relay passes
        still = await mongo_db["intakes"].find_one({"_id": "intake-leased"})
        assert still is not None and still[OUTBOX_PENDING] == 1  # still leased: not published
        records = await read_records(
            kafka_settings, kafka_settings.topic("risk-flagged"), expect=1, timeout=20
        )
    finally:
        await runtime.stop()
    assert [dict(r.headers)["ce_id"].decode() for r in records] == [flagged.envelope.id]


async def _truthy(items: list[str]) -> bool:
    return bool(items)


async def test_a_failed_relay_pass_keeps_its_documents_for_the_next_without_a_sweep(
    mongo_db: AsyncDatabase[Any],
) -> None:
    flagged = new_event(risk_flagged("intake-retried"), source="intake")
    await mongo_db["intakes"].insert_one(with_outbox({"_id": "intake-retried"}, [flagged]))
    published: list[str] = []
    broker_down = True

    async def publish(event: PendingEvent) -> None:
        if broker_down:
            raise ConnectionError("broker unreachable")
        published.append(event.event_id)

    relay = OutboxRelay([mongo_db["intakes"]], publish, Locks(mongo_db["locks"]), owner="relay")
    relay.notify("intakes", "intake-retried")
    with pytest.raises(ConnectionError):
        await relay.relay_once()

    broker_down = False
    assert await relay.relay_once() == 1  # no sweep asked for: the hint was kept
    assert published == [flagged.envelope.id]
    document = await mongo_db["intakes"].find_one({"_id": "intake-retried"})
    assert document is not None and document[OUTBOX_PENDING] == 0
