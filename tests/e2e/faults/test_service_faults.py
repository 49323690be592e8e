"""Service faults under a stream of intakes: kill -9, SIGTERM, poison, replay, two replicas each.

One scenario, run once for the module (starting eight service processes is most of its
cost), and the tests below each check one promise on what it left:

- two replicas of every service share its consumer group and split its partitions;
- a replica of each service in turn is killed with SIGKILL mid-stream and restarted; then
  another replica of each is restarted gracefully (SIGTERM, drained, started again);
- a set of poison records (bad JSON, data missing its fields, no event type) is published
  on every topic a service consumes while the stream runs;
- before the stream, a record a handler rejects (a check-in id already taken by another
  client) is dead-lettered, the conflict is fixed in intake's database, and the replay tool
  brings the record back.

The stream keeps a steady rate until the faults are done (at least 200 intakes), then the
system settles and everything is counted by identity (see audit.py). The figures go to
`.local/fault-results/service-faults.json` and the run's terminal summary.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.e2e.faults.audit import Audit, audit, wait_until_settled
from tests.e2e.faults.conftest import (
    AUTO_ASSIGN,
    MINIMUM,
    OPT_IN,
    RATE,
    SETTLE_SECONDS,
    record_and_register,
)
from tests.e2e.faults.faults import (
    ConsumedCounts,
    Fault,
    consumed_topics,
    consumers_of,
    kill_and_restart,
    publish_poison,
    terminate_and_restart,
)
from tests.e2e.faults.load import Balancer, Stream, TimedMailSink, seed_directory
from tests.e2e.journey.system import SERVICES, System, headers_of, running_system
from tests.support.fault_results import write_result
from tests.support.infrastructure import REPO, Infrastructure
from tests.support.kafka import check_in_due, drop_topics, event, eventually, publish_events

pytestmark = [pytest.mark.timeout(3600), OPT_IN]

REPLICAS = 2
MAXIMUM = 2 * MINIMUM
SPACING = 5.0  # seconds between one service's fault and the next one's


class Phases:
    """How long each part of the scenario took (written with the figures; shown with -s)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name] = round(now - self._last, 1)
        self._last = now
        print(f"[faults] {name}: {self.seconds[name]} s", file=sys.stderr, flush=True)


@dataclass
class Outcome:
    audit: Audit
    faults: list[Fault]
    poison: dict[str, list[str]]
    handled_by_replica: dict[str, int]
    duplicates_skipped: dict[str, int]
    skipped_during_graceful_phase: int
    dead_letters: list[dict[str, str]]
    replay: dict[str, Any] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)


async def run_replay(system: System, *args: str) -> str:
    """`python -m shared.messaging.replay <args>` against the system's topics; its output."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": system.kafka.bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": system.kafka.topic_prefix,
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "shared.messaging.replay", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def dead_letters(system: System) -> list[dict[str, str]]:
    """Every dead letter read so far: its headers, plus its key and topic."""
    assert system.recorder is not None
    return [
        {**headers_of(r), "topic": r.topic, "key": (r.key or b"").decode()}
        for r in list(system.recorder.records)
        if r.topic.endswith(".dlq")
    ]


async def fix_and_replay_a_rejected_check_in(system: System, mongo: AsyncMongoClient[Any]) -> dict[str, Any]:
    """A check-in-due whose check-in id another client holds: rejected, fixed, replayed, handled once."""
    check_ins = mongo[system.databases["intake"]]["check_ins"]
    check_in_id = f"ci-{uuid.uuid4().hex[:8]}"
    first, second = f"client-a-{uuid.uuid4().hex[:6]}", f"client-b-{uuid.uuid4().hex[:6]}"
    await publish_events(system.kafka, event(check_in_due(first, check_in_id=check_in_id)))

    async def taken() -> bool:
        return await check_ins.find_one({"_id": check_in_id}) is not None

    await eventually(taken, timeout=60)
    conflicting = event(check_in_due(second, check_in_id=check_in_id))
    await publish_events(system.kafka, conflicting)
    rejected_id = conflicting.envelope.id

    async def dead_lettered() -> bool:
        return any(d.get("ce_id") == rejected_id for d in dead_letters(system))

    await eventually(dead_lettered, timeout=60)
    (letter,) = [d for d in dead_letters(system) if d.get("ce_id") == rejected_id]
    # The operator's fix: the check-in was wrongly given to the first client.
    await check_ins.delete_one({"_id": check_in_id})
    replayed = await run_replay(system, "check-in-due")

    async def handled() -> bool:
        found = await check_ins.find_one({"_id": check_in_id})
        return found is not None and found["client_id"] == second

    await eventually(handled, timeout=60)
    again = await run_replay(system, "check-in-due")
    return {
        "event_id": rejected_id,
        "reason": letter.get("dlq_reason"),
        "consumer": letter.get("dlq_consumer"),
        "replayed": replayed.strip().splitlines()[-1],
        "second_replay": again.strip().splitlines()[-1],
        "check_in_client": second,
    }


async def run_scenario(
    system: System, mongo: AsyncMongoClient[Any], http: httpx.AsyncClient, plain: httpx.AsyncClient
) -> Outcome:
    phases = Phases()
    replay = await fix_and_replay_a_rejected_check_in(system, mongo)
    phases.done("replay")
    directory = await seed_directory(system, http)
    phases.done("seed")
    counts = ConsumedCounts(system)
    stream = Stream(system, http, directory, rate=RATE, minimum=MINIMUM, maximum=MAXIMUM)
    faults_done, stop_sampling = asyncio.Event(), asyncio.Event()
    sampling = asyncio.create_task(counts.follow(plain, stop_sampling))
    streaming = asyncio.create_task(stream.run(faults_done))
    faults: list[Fault] = []
    try:
        await asyncio.sleep(5)
        poison = await publish_poison(system.kafka)
        recoveries = []
        for name in SERVICES:
            recoveries.append(await kill_and_restart(system.replicas[name][0], counts, plain))
            await asyncio.sleep(SPACING)
        faults += await asyncio.gather(*recoveries)
        phases.done("kill -9 and recover, each service in turn")
        await asyncio.sleep(3)
        await counts.sample(plain)
        skipped_before = counts.total("duplicate")
        recoveries = []
        for name in SERVICES:
            recoveries.append(await terminate_and_restart(system.replicas[name][1], counts, plain))
            await asyncio.sleep(SPACING)
        faults += await asyncio.gather(*recoveries)
        phases.done("SIGTERM and recover, each service in turn")
        await asyncio.sleep(3)
        await counts.sample(plain)
        skipped_graceful = counts.total("duplicate") - skipped_before
    finally:
        faults_done.set()
        await streaming
        phases.done("stream")
    settle = await wait_until_settled(system, stream, timeout=SETTLE_SECONDS)
    phases.done("settle")
    stop_sampling.set()
    await sampling
    await counts.sample(plain)
    result = await audit(system, stream, http)
    result.settle_seconds = settle
    phases.done("audit")
    return Outcome(
        audit=result,
        faults=faults,
        poison=poison,
        handled_by_replica=counts.by_replica("handled"),
        duplicates_skipped=counts.by_replica("duplicate"),
        skipped_during_graceful_phase=skipped_graceful,
        dead_letters=dead_letters(system),
        replay=replay,
        phases=phases.seconds,
    )


@pytest.fixture(scope="module")
async def outcome(
    infrastructure: Infrastructure,
    mongo_client: AsyncMongoClient[Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Outcome]:
    started = time.monotonic()
    logs = Path(tmp_path_factory.mktemp("fault-logs"))
    started_system: System | None = None
    try:
        with running_system(
            infrastructure,
            logs,
            replicas=REPLICAS,
            mail=TimedMailSink(),
            database_prefix="faults",
            extra_env=AUTO_ASSIGN,
        ) as system:
            started_system = system
            await record_and_register(system)
            assert system.recorder is not None
            try:
                async with (
                    httpx.AsyncClient(timeout=60, transport=Balancer(system)) as http,
                    httpx.AsyncClient(timeout=30) as plain,
                ):
                    result = await run_scenario(system, mongo_client, http, plain)
            finally:
                await system.recorder.stop()
    finally:  # once the services are gone, whether or not the scenario ran through
        if started_system is not None:
            for database in started_system.databases.values():
                await mongo_client.drop_database(database)
            await drop_topics(started_system.kafka)
    write_result(
        "service-faults",
        {
            **result.audit.as_dict(),
            "faults": [f.as_dict() for f in result.faults],
            "handled_by_replica": result.handled_by_replica,
            "duplicate_deliveries_skipped_by_replica": result.duplicates_skipped,
            "duplicate_deliveries_skipped_after_sigterm_restarts": result.skipped_during_graceful_phase,
            "dead_letters": len(result.dead_letters),
            "replay": result.replay,
            "phase_seconds": result.phases,
            "wall_seconds": time.monotonic() - started,
        },
    )
    yield result


def test_every_intake_is_booked_exactly_once_and_nothing_is_lost(outcome: Outcome) -> None:
    counts = outcome.audit.counts
    assert counts["intakes_sent"] >= MINIMUM
    assert outcome.audit.problems == []
    assert counts["first_sessions_booked"] == counts["intakes_sent"] == counts["intakes_completed"]
    assert (counts["duplicates"], counts["lost"]) == (0, 0)


def test_each_booking_e_mail_reaches_client_and_therapist_once_by_message_id(outcome: Outcome) -> None:
    counts = outcome.audit.counts
    assert counts["emails_sent"] == counts["emails_expected"] == 2 * counts["intakes_sent"]


def test_a_replica_of_every_service_was_killed_and_another_restarted_gracefully(outcome: Outcome) -> None:
    done = {(f.fault, f.target) for f in outcome.faults}
    assert done == {("kill -9", f"{s}-0") for s in SERVICES} | {("SIGTERM", f"{s}-1") for s in SERVICES}
    # uvicorn re-raises the SIGTERM it handled once it has shut down: -15 is a clean exit.
    assert all(f.notes["exit_code"] in (0, -signal.SIGTERM) for f in outcome.faults if f.fault == "SIGTERM")
    assert all("restart_to_consuming_s" in f.timings for f in outcome.faults), outcome.faults


def test_no_delivery_is_handled_twice_after_graceful_restarts(outcome: Outcome) -> None:
    """Redeliveries while replicas restart gracefully are recognised by the inbox, never handled again.

    A rebalance (a replica leaving or joining) can fail a survivor's commit, so a record
    may come again; the figure is reported, and the audit finds no effect twice.
    """
    assert outcome.skipped_during_graceful_phase >= 0
    assert outcome.audit.counts["duplicates"] == 0


def test_both_replicas_of_every_service_handle_a_share_of_the_events(outcome: Outcome) -> None:
    for name in SERVICES:
        shares = [outcome.handled_by_replica.get(f"{name}-{n}", 0) for n in range(REPLICAS)]
        assert all(share > 0 for share in shares), (name, shares)


def test_poison_on_every_consumed_topic_is_dead_lettered_by_each_consumer_with_its_reason(
    outcome: Outcome,
) -> None:
    letters = outcome.dead_letters
    poison_ids = {i for ids in outcome.poison.values() for i in ids}
    for topic in consumed_topics():
        for event_id in outcome.poison[topic]:
            found = [d for d in letters if d.get("ce_id") == event_id]
            consumers = {d["dlq_consumer"].rsplit("carepath-", 1)[1] for d in found}
            assert consumers == consumers_of(topic), (topic, event_id, found)
            assert len(found) == len(consumers_of(topic)), (topic, event_id, len(found))
            assert all(d["dlq_reason"] in ("invalid_event", "unreadable_record") for d in found)
            assert all(d["dlq_error"] and d["dlq_original_topic"].endswith(topic) for d in found)
    unexpected = [d for d in letters if d.get("ce_id") not in poison_ids | {outcome.replay["event_id"]}]
    assert unexpected == []


def test_a_rejected_record_is_replayed_after_its_fix_and_handled_once(outcome: Outcome) -> None:
    replay = outcome.replay
    assert replay["reason"] == "rejected_by_handler" and replay["consumer"].endswith("carepath-intake")
    assert replay["replayed"] == "1 dead letter(s) replayed"
    assert replay["second_replay"] == "0 dead letter(s) replayed"
    rejected = [d for d in outcome.dead_letters if d.get("ce_id") == replay["event_id"]]
    assert len(rejected) == 1, "the replayed record was handled, not dead-lettered again"
