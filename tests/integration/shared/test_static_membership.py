"""Static group membership (KAFKA_GROUP_INSTANCE_ID, KIP-345) on the real broker.

A replica with a stable name gives each of its consumers a `group.instance.id`
(shared/messaging/subscriptions.py). Restarted under that name, it is handed its partitions
again by the coordinator at once: no rebalance, and after a kill -9 no wait for the dead
member's session to time out. What aiokafka does on a clean stop is the other side of it:
it sends no LeaveGroup for a static member, so the member (and its partitions) stays in the
group until its session times out or the same name comes back. Unset, consumers are dynamic
members as before (the rest of the suite runs that way).

The sessions here are set to 60 s, longer than any wait below: a replica that consumes again
within the test did so without waiting for its old members to be dropped.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from pymongo.asynchronous.database import AsyncDatabase

from shared.events.envelope import Envelope
from shared.events.models import CheckInDue
from shared.events.registry import spec_for
from shared.messaging.broker import kafka_connection_options
from shared.messaging.subscriptions import Subscription, group_for
from shared.runtime import ServiceRuntime
from shared.settings import KafkaSettings, MongoSettings
from tests.support.crashing_handler import counting_handler, replica_environment
from tests.support.infrastructure import REPO
from tests.support.kafka import check_in_due, event, eventually, publish_raw
from tests.support.runtime import build_runtime, plumbing_settings

SESSION_MS = 60_000
"""Longer than every wait in these tests: nothing here may wait for a session to run out."""


def static(kafka: KafkaSettings, name: str) -> KafkaSettings:
    return kafka.model_copy(update={"group_instance_id": name})


async def group_members(kafka: KafkaSettings, group: str) -> dict[str, set[int]]:
    """Each member of `group` (a static member's id begins with its instance id) and its partitions."""
    admin = AIOKafkaAdminClient(**kafka_connection_options(kafka))
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    [described] = response.groups
    members: dict[str, set[int]] = {}
    for member_id, _client, _host, _metadata, assignment in described[5]:
        owned = ConsumerProtocolMemberAssignment.decode(assignment).assignment if assignment else []
        members[member_id] = {partition for _topic, partitions in owned for partition in partitions}
    return members


async def held_by(kafka: KafkaSettings, group: str, members: int) -> bool:
    """`group` has `members` members, each holding partitions (a rebalance among them is over)."""
    held = await group_members(kafka, group)
    return len(held) == members and all(held.values())


async def publish_check_ins(kafka: KafkaSettings, prefix: str, count: int) -> set[str]:
    """`count` check-ins of as many clients (so spread over the partitions), through one producer."""
    events = [event(check_in_due(f"client-{prefix}-{i}", check_in_id=f"{prefix}-{i}")) for i in range(count)]
    await publish_raw(
        kafka,
        kafka.topic("check-in-due"),
        [(e.key.encode(), e.value(), e.envelope.to_headers()) for e in events],
    )
    return {f"{prefix}-{i}" for i in range(count)}


async def test_a_replica_killed_and_restarted_under_its_name_consumes_again_while_its_old_sessions_are_open(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    """A kill -9 leaves its members in the group; the restarted replica takes their places.

    With dynamic members the new replica's join would wait for the dead ones to be dropped
    (the 60 s session); a static replica is given their partitions at once.
    """
    group = group_for(
        plumbing_settings(kafka_settings, mongo_settings, mongo_db.name).group_id, spec_for(CheckInDue)
    )
    replica = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.crashing_handler",
        cwd=REPO,
        env=replica_environment(
            kafka_settings,
            mongo_settings,
            mongo_db.name,
            KAFKA_GROUP_INSTANCE_ID="replica-a",
            PLUMBING_TEST_CONSUMER_SESSION_TIMEOUT_MS=str(SESSION_MS),
            PLUMBING_TEST_CONSUMERS_PER_TOPIC="2",  # two members, both to be replaced
            CRASHING_HANDLER_MODE="handle",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first = await publish_check_ins(kafka_settings, "before", 1)

        async def handled(ids: set[str]) -> bool:
            return await mongo_db["effects"].count_documents({"_id": {"$in": sorted(ids)}}) == len(ids)

        await eventually(lambda: handled(first), timeout=60)
        await eventually(lambda: held_by(kafka_settings, group, 2))
    finally:
        replica.kill()  # SIGKILL: no commit, no goodbye to the coordinator
        await asyncio.wait_for(replica.wait(), timeout=30)
    dead = await group_members(kafka_settings, group)
    assert len(dead) == 2 and all(member.startswith("replica-a.check-in-due.") for member in dead)

    later = await publish_check_ins(kafka_settings, "after", 12)  # while the replica is down
    restarted = ServiceRuntime(
        plumbing_settings(
            static(kafka_settings, "replica-a"),
            mongo_settings,
            mongo_db.name,
            consumer_session_timeout_ms=SESSION_MS,
            consumers_per_topic=2,
        )
    )
    restarted.subscribe(Subscription(CheckInDue, counting_handler(restarted.documents("effects"))))
    # Started aside: a dynamic replica's start would wait out the dead members' sessions.
    starting = asyncio.create_task(restarted.start())
    try:
        await eventually(lambda: handled(later), timeout=SESSION_MS / 2000)
        members = await group_members(kafka_settings, group)
    finally:
        await starting
        await restarted.stop()

    assert len(members) == 2 and not set(members) & set(dead), "the dead members were replaced"
    assert set().union(*members.values()) == set(range(kafka_settings.topic_partitions))
    counts = {doc["_id"]: doc["n"] for doc in await mongo_db["effects"].find({}).to_list()}
    assert set(counts) == first | later and set(counts.values()) == {1}


async def test_two_static_consumers_of_a_group_in_one_replica_each_hold_partitions_and_handle_records_once(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    """consumers_per_topic=2 with one replica name: two static ids, so neither fences the other."""
    handled: Counter[str] = Counter()

    async def record(data: CheckInDue, envelope: Envelope) -> None:
        handled[data.check_in_id] += 1

    runtime = build_runtime(
        static(kafka_settings, "replica-b"),
        mongo_settings,
        mongo_db.name,
        subscriptions=[Subscription(CheckInDue, record)],
        consumers_per_topic=2,
        consumer_session_timeout_ms=SESSION_MS,
    )
    group = group_for(runtime.settings.group_id, spec_for(CheckInDue))
    async with runtime:
        await eventually(lambda: held_by(kafka_settings, group, 2))
        members = await group_members(kafka_settings, group)
        published = await publish_check_ins(kafka_settings, "split", 60)

        async def all_handled() -> bool:
            return set(handled) == published

        await eventually(all_handled)
        await asyncio.sleep(0.5)  # a fenced consumer's redelivery would show up here
        assert await group_members(kafka_settings, group) == members, "no member was fenced or replaced"

    assert sorted(m.rsplit("-", 5)[0] for m in members) == [
        "replica-b.check-in-due.0",
        "replica-b.check-in-due.1",
    ]
    assert all(members.values()), "each consumer holds partitions of its own"
    assert set().union(*members.values()) == set(range(kafka_settings.topic_partitions))
    assert set(handled.values()) == {1}


async def test_a_cleanly_stopped_static_replica_stays_in_its_group_and_its_return_consumes_at_once(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    """aiokafka sends no LeaveGroup for a static member: a SIGTERM'd replica keeps its partitions.

    Its return under the same name (a restart, a StatefulSet pod) takes them up at once; a
    replica that never returns leaves them unread until its session times out.
    """
    handled: list[str] = []

    async def record(data: CheckInDue, envelope: Envelope) -> None:
        handled.append(data.check_in_id)

    def replica() -> ServiceRuntime:
        return build_runtime(
            static(kafka_settings, "replica-c"),
            mongo_settings,
            mongo_db.name,
            subscriptions=[Subscription(CheckInDue, record)],
            consumers_per_topic=1,
            consumer_session_timeout_ms=SESSION_MS,
        )

    first = replica()
    group = group_for(first.settings.group_id, spec_for(CheckInDue))
    async with first:
        before = await group_members(kafka_settings, group)
    after_stop = await group_members(kafka_settings, group)
    assert list(after_stop) == list(before) and len(before) == 1, "the stopped member did not leave"
    assert after_stop == before, "and its partitions are still its own"

    async with replica():
        published = await publish_check_ins(kafka_settings, "back", 6)

        async def all_handled() -> bool:
            return set(handled) == published

        await eventually(all_handled, timeout=30)
        [member] = await group_members(kafka_settings, group)
    assert member != next(iter(before)) and member.startswith("replica-c.check-in-due.0-")
