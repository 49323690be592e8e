"""Crashes and outages on the real broker and database: nothing twice, nothing lost, nothing poisoned."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

from pymongo.asynchronous.database import AsyncDatabase

from shared.events.envelope import Envelope
from shared.events.models import CheckInDue
from shared.events.registry import spec_for
from shared.messaging.subscriptions import Subscription, group_for
from shared.runtime import ServiceRuntime
from shared.settings import KafkaSettings, MongoSettings
from shared.storage.documents import Revision
from shared.storage.inbox import Inbox
from shared.storage.locks import document_lock
from tests.support.crashing_handler import CRASH_EXIT_CODE, count, counting_handler, replica_environment
from tests.support.infrastructure import REPO
from tests.support.kafka import (
    check_in_due,
    committed_offsets,
    event,
    eventually,
    publish_events,
    read_records,
)
from tests.support.runtime import plumbing_settings
from tests.support.tcp_proxy import TcpProxy


async def test_effect_stored_by_a_handler_killed_before_its_inbox_record_is_applied_once_on_redelivery(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    settings = plumbing_settings(kafka_settings, mongo_settings, mongo_db.name)
    due = event(check_in_due(check_in_id="ci-crash"))
    await publish_events(kafka_settings, due)

    crashed = subprocess.run(
        [sys.executable, "-m", "tests.support.crashing_handler"],
        cwd=REPO,
        env=replica_environment(kafka_settings, mongo_settings, mongo_db.name),
        capture_output=True,
        timeout=90,
        check=False,
    )
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr[-2000:]
    assert (await mongo_db["effects"].find_one({"_id": "ci-crash"}))["n"] == 1
    inbox = Inbox(mongo_db["inbox"])
    assert not await inbox.has_handled(settings.group_id, due.envelope.id)  # died before it

    replica = ServiceRuntime(settings)  # the same consumer group gets the uncommitted record again
    replica.subscribe(Subscription(CheckInDue, counting_handler(replica.documents("effects"))))
    async with replica:
        await eventually(lambda: inbox.has_handled(settings.group_id, due.envelope.id), timeout=60)

    assert (await mongo_db["effects"].find_one({"_id": "ci-crash"}))["n"] == 1


async def test_a_replica_killed_after_handling_but_before_committing_causes_no_double_effect(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    """Offsets (and the inbox's record of handled ids, stored just before them) are committed
    on an interval: a kill -9 inside that window redelivers, and the effect's own record of
    its cause keeps it from happening twice."""
    settings = plumbing_settings(kafka_settings, mongo_settings, mongo_db.name)
    due = event(check_in_due(check_in_id="ci-uncommitted"))
    await publish_events(kafka_settings, due)
    inbox = Inbox(mongo_db["inbox"])
    group = group_for(settings.group_id, spec_for(CheckInDue))

    replica = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.crashing_handler",
        cwd=REPO,
        env=replica_environment(
            kafka_settings,
            mongo_settings,
            mongo_db.name,
            PLUMBING_TEST_OFFSET_COMMIT_INTERVAL_SECONDS="60",  # the window stays open
            CRASHING_HANDLER_MODE="handle",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    async def handled() -> bool:
        return await mongo_db["effects"].find_one({"_id": "ci-uncommitted"}) is not None

    try:
        await eventually(handled, timeout=60)
    finally:
        replica.kill()  # SIGKILL: no shutdown, no flush of pending offsets
        await asyncio.wait_for(replica.wait(), timeout=30)
    assert (await mongo_db["effects"].find_one({"_id": "ci-uncommitted"}))["n"] == 1
    assert await committed_offsets(kafka_settings, group) == {}  # killed inside the window
    assert not await inbox.has_handled(settings.group_id, due.envelope.id)  # stored with the commit

    survivor = ServiceRuntime(settings)  # the same group: the record comes again
    survivor.subscribe(Subscription(CheckInDue, counting_handler(survivor.documents("effects"))))
    async with survivor:

        async def committed_past_it() -> bool:
            return sum(offset for offset in (await committed_offsets(kafka_settings, group)).values()) == 1

        await eventually(committed_past_it, timeout=60)

    assert (await mongo_db["effects"].find_one({"_id": "ci-uncommitted"}))["n"] == 1


async def test_a_document_leased_by_a_killed_replica_is_written_by_another_within_five_seconds(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    survivor = ServiceRuntime(plumbing_settings(kafka_settings, mongo_settings, mongo_db.name))
    # The writer waits at most 5 s for the lease: success proves the takeover came sooner.
    clients = survivor.documents("clients", wait_seconds=5.0)
    await mongo_db["clients"].insert_one({"_id": "client-1", "n": 0})
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.lease_holder",
        mongo_settings.uri.get_secret_value(),
        mongo_db.name,
        document_lock(mongo_db["clients"], "client-1"),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert (await asyncio.wait_for(holder.stdout.readline(), timeout=30)).strip() == b"held"
        async with survivor:
            holder.send_signal(signal.SIGKILL)
            await holder.wait()
            changed = await clients.update("client-1", lambda d: Revision({**d, "n": d["n"] + 1}))
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
    assert changed == {"_id": "client-1", "n": 1}


async def test_database_outage_mid_handler_longer_than_the_retry_bound_dead_letters_nothing(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    upstream = urlsplit(mongo_settings.uri.get_secret_value())
    proxy = TcpProxy(upstream.hostname or "127.0.0.1", upstream.port or 27017)
    await proxy.start()
    through_proxy = MongoSettings(
        uri=f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true", server_selection_timeout_ms=300
    )
    settings = plumbing_settings(
        kafka_settings, through_proxy, mongo_db.name, retry_max_attempts=3, retry_max_backoff_seconds=0.3
    )
    in_handler, outage_started = asyncio.Event(), asyncio.Event()
    runtime = ServiceRuntime(settings)
    effects = runtime.documents("effects")

    async def on_check_in_due(data: CheckInDue, envelope: Envelope) -> None:
        in_handler.set()
        await outage_started.wait()
        await effects.upsert(data.check_in_id, count, cause=envelope)

    runtime.subscribe(Subscription(CheckInDue, on_check_in_due))
    due = event(check_in_due(check_in_id="ci-outage"))
    try:
        async with runtime:
            await publish_events(kafka_settings, due)
            await asyncio.wait_for(in_handler.wait(), timeout=30)
            await proxy.stop()
            outage_started.set()
            # 3 attempts of at most 0.3 s backoff plus 0.3 s server selection: the bound is ~2 s.
            await asyncio.sleep(6)
            stalled_during_outage = not await runtime.consuming()
            await proxy.start()
            inbox = Inbox(mongo_db["inbox"])
            await eventually(lambda: inbox.has_handled(settings.group_id, due.envelope.id), timeout=60)
            dead_letters = await read_records(
                kafka_settings, kafka_settings.topic("check-in-due.dlq"), expect=1, timeout=3
            )
    finally:
        await proxy.stop()
    assert stalled_during_outage
    assert (await mongo_db["effects"].find_one({"_id": "ci-outage"}))["n"] == 1
    assert dead_letters == []
