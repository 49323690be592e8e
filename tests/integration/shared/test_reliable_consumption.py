"""At-least-once in, exactly once in effect, on the real broker and database (DESIGN §4)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.events.common import RiskLevel
from shared.events.envelope import Envelope
from shared.events.models import CheckInDue, RiskFlagged
from shared.messaging.consumption import HANDLED_EVENT, PermanentError
from shared.messaging.dead_letters import DLQ_HEADERS
from shared.messaging.replay import replay_dead_letters
from shared.messaging.subscriptions import Subscription
from shared.refusals import Conflict
from shared.settings import KafkaSettings, MongoSettings
from shared.storage.inbox import Inbox
from tests.support.kafka import check_in_due, event, eventually, publish_events, publish_raw, read_records
from tests.support.runtime import build_runtime


async def test_redelivered_event_changes_nothing_twice(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    async def count_check_in(data: CheckInDue, envelope: Envelope) -> None:
        await mongo_db["effects"].update_one({"_id": data.check_in_id}, {"$inc": {"n": 1}}, upsert=True)

    runtime = build_runtime(
        kafka_settings,
        mongo_settings,
        mongo_db.name,
        subscriptions=[Subscription(CheckInDue, count_check_in)],
    )
    await runtime.start()
    try:
        once = event(check_in_due(check_in_id="ci-redelivered"))
        await publish_events(kafka_settings, once, once, once)  # the same ce_id three times
        await publish_events(kafka_settings, event(check_in_due(check_in_id="ci-marker")))

        async def marker_handled() -> bool:
            return await mongo_db["effects"].find_one({"_id": "ci-marker"}) is not None

        await eventually(marker_handled)
        effect = await mongo_db["effects"].find_one({"_id": "ci-redelivered"})
        assert effect is not None and effect["n"] == 1
    finally:
        await runtime.stop()


async def test_poison_message_goes_to_dead_letter_topic_and_the_partition_moves_on(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    handled: list[str] = []

    async def record(data: CheckInDue, envelope: Envelope) -> None:
        handled.append(data.check_in_id)

    runtime = build_runtime(
        kafka_settings, mongo_settings, mongo_db.name, subscriptions=[Subscription(CheckInDue, record)]
    )
    topic = kafka_settings.topic("check-in-due")
    good = event(check_in_due(check_in_id="ci-after-poison"))
    poison_headers = {**good.envelope.to_headers(), "ce_id": "0b3e2a64-98a4-4a3b-9b7c-1f1f1f1f1f1f"}
    poison_value = json.dumps({"check_in_id": "ci-poison", "client_id": "client-1"}).encode()
    await runtime.start()
    try:
        # Same key, so poison and good share a partition: the good one must still be handled.
        await publish_raw(kafka_settings, topic, [(b"client-1", poison_value, poison_headers)])
        await publish_events(kafka_settings, good)

        async def good_handled() -> bool:
            return "ci-after-poison" in handled

        await eventually(good_handled)
        dead = await read_records(kafka_settings, f"{topic}.dlq", expect=1)
    finally:
        await runtime.stop()

    assert handled == ["ci-after-poison"]
    assert len(dead) == 1
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert dead[0].value == poison_value and dead[0].key == b"client-1"
    assert headers[DLQ_HEADERS.reason] == "invalid_event"
    assert headers[DLQ_HEADERS.error] == "ValidationError: therapist_id, due_at, instruments"
    assert headers["ce_id"] == poison_headers["ce_id"]
    assert headers["ce_type"] == "carepath.check-in-due.v1"
    assert headers["correlation_id"] == poison_headers["correlation_id"]
    assert headers[DLQ_HEADERS.original_topic] == topic


async def test_record_without_cloudevents_headers_is_dead_lettered_with_the_missing_header(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    async def record(data: CheckInDue, envelope: Envelope) -> None:
        raise AssertionError("must not be called")

    runtime = build_runtime(
        kafka_settings, mongo_settings, mongo_db.name, subscriptions=[Subscription(CheckInDue, record)]
    )
    topic = kafka_settings.topic("check-in-due")
    await runtime.start()
    try:
        await publish_raw(
            kafka_settings, topic, [(b"k", check_in_due().model_dump_json().encode(), {"x-origin": "legacy"})]
        )
        dead = await read_records(kafka_settings, f"{topic}.dlq", expect=1)
    finally:
        await runtime.stop()
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert (
        headers[DLQ_HEADERS.error]
        == "EnvelopeError: ce_specversion, ce_id, ce_source, ce_type, ce_time, ce_subject"
    )
    assert headers["x-origin"] == "legacy"


async def test_transient_failure_is_retried_with_backoff_then_succeeds(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    attempts: list[float] = []

    async def flaky(data: CheckInDue, envelope: Envelope) -> None:
        attempts.append(asyncio.get_running_loop().time())
        if len(attempts) < 3:
            raise ConnectionError("downstream briefly unavailable")
        await mongo_db["effects"].insert_one({"_id": data.check_in_id})

    runtime = build_runtime(
        kafka_settings,
        mongo_settings,
        mongo_db.name,
        subscriptions=[Subscription(CheckInDue, flaky)],
        retry_initial_backoff_seconds=0.2,
        retry_max_backoff_seconds=2.0,
    )
    await runtime.start()
    try:
        await publish_events(kafka_settings, event(check_in_due(check_in_id="ci-flaky")))

        async def stored() -> bool:
            return await mongo_db["effects"].find_one({"_id": "ci-flaky"}) is not None

        await eventually(stored)
    finally:
        await runtime.stop()
    assert len(attempts) == 3
    first_wait, second_wait = attempts[1] - attempts[0], attempts[2] - attempts[1]
    # Jittered exponential backoff: the first wait is 0.1–0.2 s, the second 0.2–0.4 s.
    assert first_wait >= 0.1 and second_wait >= 0.2


async def test_failure_that_outlives_the_retry_bound_goes_to_dead_letter_topic(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    calls: list[str] = []

    async def always_down(data: CheckInDue, envelope: Envelope) -> None:
        calls.append(data.check_in_id)
        raise ConnectionError("still down")

    runtime = build_runtime(
        kafka_settings,
        mongo_settings,
        mongo_db.name,
        subscriptions=[Subscription(CheckInDue, always_down)],
        retry_max_attempts=3,
    )
    topic = kafka_settings.topic("check-in-due")
    await runtime.start()
    try:
        await publish_events(kafka_settings, event(check_in_due(check_in_id="ci-doomed")))
        dead = await read_records(kafka_settings, f"{topic}.dlq", expect=1)
    finally:
        await runtime.stop()
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert calls == ["ci-doomed"] * 3
    assert headers[DLQ_HEADERS.reason] == "retries_exhausted"
    assert headers[DLQ_HEADERS.attempts] == "3"
    assert headers[DLQ_HEADERS.error] == "ConnectionError"  # the type only: a message may quote data


async def test_permanent_error_from_handler_is_dead_lettered_without_retry(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    calls: list[str] = []

    async def impossible(data: CheckInDue, envelope: Envelope) -> None:
        calls.append(data.check_in_id)
        raise PermanentError("therapist-1 is unknown here")

    runtime = build_runtime(
        kafka_settings, mongo_settings, mongo_db.name, subscriptions=[Subscription(CheckInDue, impossible)]
    )
    topic = kafka_settings.topic("check-in-due")
    await runtime.start()
    try:
        await publish_events(kafka_settings, event(check_in_due(check_in_id="ci-impossible")))
        dead = await read_records(kafka_settings, f"{topic}.dlq", expect=1)
    finally:
        await runtime.stop()
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert calls == ["ci-impossible"]
    assert headers[DLQ_HEADERS.reason] == "rejected_by_handler"


async def test_a_command_refusal_in_a_handler_is_dead_lettered_at_once_with_its_code(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    calls: list[str] = []

    async def refusing(data: CheckInDue, envelope: Envelope) -> None:
        calls.append(data.check_in_id)
        raise Conflict("the check-in belongs to another client", code="check_in_of_another_client")

    runtime = build_runtime(
        kafka_settings, mongo_settings, mongo_db.name, subscriptions=[Subscription(CheckInDue, refusing)]
    )
    topic = kafka_settings.topic("check-in-due")
    await runtime.start()
    try:
        await publish_events(kafka_settings, event(check_in_due(check_in_id="ci-refused")))
        dead = await read_records(kafka_settings, f"{topic}.dlq", expect=1)
    finally:
        await runtime.stop()
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert calls == ["ci-refused"]
    assert headers[DLQ_HEADERS.reason] == "rejected_by_handler"
    assert headers[DLQ_HEADERS.error] == "Conflict: check_in_of_another_client"


async def test_two_consumers_in_one_group_split_partitions_and_handle_each_event_once(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    handled_by: dict[str, Counter[str]] = {"a": Counter(), "b": Counter()}

    def handler_for(name: str) -> Any:
        async def handle(data: CheckInDue, envelope: Envelope) -> None:
            handled_by[name][data.check_in_id] += 1
            await mongo_db["effects"].update_one({"_id": data.check_in_id}, {"$inc": {"n": 1}}, upsert=True)

        return handle

    first = build_runtime(
        kafka_settings,
        mongo_settings,
        mongo_db.name,
        subscriptions=[Subscription(CheckInDue, handler_for("a"))],
    )
    second = build_runtime(
        kafka_settings,
        mongo_settings,
        mongo_db.name,
        subscriptions=[Subscription(CheckInDue, handler_for("b"))],
    )
    await first.start()
    await second.start()
    try:

        async def both_assigned() -> bool:
            assigned = [runtime.assigned_partitions() for runtime in (first, second)]
            return all(assigned) and sum(len(a) for a in assigned) == kafka_settings.topic_partitions

        await eventually(both_assigned)
        events = [event(check_in_due(f"client-{i}", check_in_id=f"ci-{i}")) for i in range(60)]
        await publish_events(kafka_settings, *events)

        async def all_handled() -> bool:
            return await mongo_db["effects"].count_documents({}) == 60

        await eventually(all_handled)
    finally:
        await first.stop()
        await second.stop()
    assert handled_by["a"] and handled_by["b"], "both consumers of the group got partitions"
    assert not set(handled_by["a"]) & set(handled_by["b"])
    effects = await mongo_db["effects"].find({}).to_list()
    assert {doc["n"] for doc in effects} == {1}


async def test_dead_letters_replayed_after_a_fix_are_handled_once_and_never_replayed_twice(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    fixed = False
    handled: list[str] = []

    async def refuses_until_fixed(data: CheckInDue, envelope: Envelope) -> None:
        if not fixed:
            raise PermanentError("therapist-1 is not onboarded yet")
        handled.append(data.check_in_id)

    runtime = build_runtime(
        kafka_settings,
        mongo_settings,
        mongo_db.name,
        subscriptions=[Subscription(CheckInDue, refuses_until_fixed)],
    )
    topic = kafka_settings.topic("check-in-due")
    await runtime.start()
    try:
        await publish_events(kafka_settings, event(check_in_due(check_in_id="ci-replayed")))
        await read_records(kafka_settings, f"{topic}.dlq", expect=1)
        fixed = True  # the operator fixes the cause, then replays

        listed = await replay_dead_letters(kafka_settings, "check-in-due", dry_run=True, idle_seconds=1)
        replayed = await replay_dead_letters(kafka_settings, "check-in-due", idle_seconds=1)

        async def handled_once() -> bool:
            return handled == ["ci-replayed"]

        await eventually(handled_once)
        again = await replay_dead_letters(kafka_settings, "check-in-due", idle_seconds=1)
    finally:
        await runtime.stop()
    assert [r.reason for r in listed] == ["rejected_by_handler"]
    assert [r.event_id for r in replayed] == [r.event_id for r in listed]
    assert again == []


async def test_inbox_forgets_only_events_handled_before_the_retention(mongo_db: AsyncDatabase[Any]) -> None:
    inbox = Inbox(mongo_db["inbox"])
    inbox.note_handled("matching", "old-event", topic="intake-completed")
    await inbox.save()
    await mongo_db["inbox"].update_one(
        {"_id": "matching/old-event"}, {"$set": {"handled_at": datetime.now(UTC) - timedelta(days=40)}}
    )
    inbox.note_handled("matching", "recent-event", topic="intake-completed")
    await inbox.save()

    assert await inbox.prune(datetime.now(UTC) - timedelta(days=30)) == 1
    restarted = Inbox(mongo_db["inbox"])  # nothing in memory: what is stored answers
    assert not await restarted.has_handled("matching", "old-event")
    assert await restarted.has_handled("matching", "recent-event")


async def test_a_noted_event_is_recognised_before_it_is_stored_and_stored_in_one_write_with_others(
    mongo_db: AsyncDatabase[Any],
) -> None:
    earlier = Inbox(mongo_db["inbox"])  # another delivery of e-2, stored first
    earlier.note_handled("matching", "e-2", topic="intake-completed")
    await earlier.save()
    inbox = Inbox(mongo_db["inbox"])
    for event_id in ("e-1", "e-2", "e-3"):
        inbox.note_handled("matching", event_id, topic="intake-completed")

    assert await inbox.has_handled("matching", "e-3")  # in memory: a duplicate arriving now is skipped
    handled = {"handled_at": {"$exists": True}}  # not the consumer's `saved_until`
    assert await mongo_db["inbox"].count_documents(handled) == 1
    await inbox.save()  # e-2 is there already: that is no failure

    assert sorted([d["_id"] async for d in mongo_db["inbox"].find(handled)]) == [
        "matching/e-1",
        "matching/e-2",
        "matching/e-3",
    ]
    fresh = Inbox(mongo_db["inbox"])  # another replica, after a restart
    assert all([await fresh.has_handled("matching", e) for e in ("e-1", "e-2", "e-3")])


async def test_one_service_consumes_several_topics_in_its_one_consumer_group(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    seen: list[str] = []

    async def on_check_in_due(data: CheckInDue, envelope: Envelope) -> None:
        seen.append(f"check-in-due:{data.check_in_id}")

    async def on_risk_flagged(data: RiskFlagged, envelope: Envelope) -> None:
        seen.append(f"risk-flagged:{data.check_in_id}")

    runtime = build_runtime(
        kafka_settings,
        mongo_settings,
        mongo_db.name,
        subscriptions=[Subscription(CheckInDue, on_check_in_due), Subscription(RiskFlagged, on_risk_flagged)],
    )
    await runtime.start()
    try:
        flagged = RiskFlagged(
            check_in_id="ci-2",
            client_id="client-1",
            risk_level=RiskLevel.high,
            reasons=["cssrs_q6_recent_behaviour"],
            flagged_at=datetime.now(UTC),
        )
        await publish_events(kafka_settings, event(check_in_due(check_in_id="ci-1")), event(flagged))

        async def both() -> bool:
            return len(seen) == 2

        await eventually(both)
    finally:
        await runtime.stop()
    assert sorted(seen) == ["check-in-due:ci-1", "risk-flagged:ci-2"]


async def test_one_clients_events_are_handled_in_order_while_other_clients_overlap(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    """One consumer for all six partitions: before, it handled one record at a time."""
    running: set[str] = set()
    most_at_once = 0
    seen: dict[str, list[int]] = {}
    overlapped_within_a_client: list[str] = []

    async def slow(data: CheckInDue, envelope: Envelope) -> None:
        nonlocal most_at_once
        if data.client_id in running:
            overlapped_within_a_client.append(data.check_in_id)
        running.add(data.client_id)
        most_at_once = max(most_at_once, len(running))
        await asyncio.sleep(0.05)
        seen.setdefault(data.client_id, []).append(int(data.check_in_id.rsplit("-", 1)[1]))
        running.discard(data.client_id)
        await mongo_db["effects"].update_one({"_id": data.check_in_id}, {"$inc": {"n": 1}}, upsert=True)

    runtime = build_runtime(
        kafka_settings,
        mongo_settings,
        mongo_db.name,
        subscriptions=[Subscription(CheckInDue, slow)],
        consumers_per_topic=1,
    )
    await runtime.start()
    try:
        events = [
            event(check_in_due(f"client-{c}", check_in_id=f"ci-{c}-{n}")) for n in range(8) for c in range(12)
        ]
        await publish_events(kafka_settings, *events)

        async def all_handled() -> bool:
            return await mongo_db["effects"].count_documents({}) == len(events)

        await eventually(all_handled, timeout=60)
    finally:
        await runtime.stop()
    assert overlapped_within_a_client == [], "one client's events never run at once"
    assert all(order == list(range(8)) for order in seen.values()), seen
    assert most_at_once > 1, "different clients' events were handled at once"
    assert {doc["n"] for doc in await mongo_db["effects"].find({}).to_list()} == {1}


async def test_a_handler_gets_the_data_and_envelope_the_pipeline_checked_parsed_once(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    received: list[tuple[CheckInDue, Envelope, bool]] = []

    async def record(data: CheckInDue, envelope: Envelope) -> None:
        received.append((data, envelope, data is HANDLED_EVENT.get()))

    runtime = build_runtime(
        kafka_settings, mongo_settings, mongo_db.name, subscriptions=[Subscription(CheckInDue, record)]
    )
    sent = [event(check_in_due(check_in_id=f"ci-{n}", client_id=f"client-{n}")) for n in range(5)]
    await runtime.start()
    try:
        await publish_events(kafka_settings, *sent)

        async def all_handled() -> bool:
            return len(received) == len(sent)

        await eventually(all_handled)
    finally:
        await runtime.stop()
    by_id = {data.check_in_id: (data, envelope, same) for data, envelope, same in received}
    for outgoing in sent:
        data, envelope, same = by_id[outgoing.data.check_in_id]
        assert data == outgoing.data and envelope.id == outgoing.envelope.id, "each record its own"
        assert same, "the model the pipeline validated, not a second parse of the record"
