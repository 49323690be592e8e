"""Faults done to running processes and servers, each timed as it happens.

A fault's recovery is measured where the system shows it: a restarted replica's
`/readyz` answering 200 (Kafka and MongoDB reachable, no handler stalled), then its own
metrics (on their own port) counting an event it handled (it consumes again). The times are recorded, never
asserted: the machine is shared and they only describe this run.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.events.envelope import Envelope
from shared.events.registry import spec_named
from shared.settings import KafkaSettings
from tests.e2e.journey.system import Process, System
from tests.support.kafka import publish_raw

# What each service consumes (services/<name>/app.py, its subscriptions): a poison record on
# one of these topics is dead-lettered once by every consumer of the topic.
CONSUMED: dict[str, tuple[str, ...]] = {
    "intake": (
        "check-in-due",
        "match-proposed",
        "match-accepted",
        "match-declined",
        "session-booked",
        "session-attendance-recorded",
    ),
    "matching": (
        "intake-completed",
        "therapist-availability-changed",
        "session-booked",
        "session-cancelled",
        "session-attendance-recorded",
        "check-in-completed",
        "booking-failed",
        "treatment-plan-updated",
    ),
    "scheduling": ("match-proposed", "match-accepted", "match-declined", "treatment-plan-updated"),
    "notifications": (
        "risk-flagged",
        "intake-completed",
        "match-proposed",
        "match-accepted",
        "match-declined",
        "booking-failed",
        "session-booked",
        "session-rescheduled",
        "session-cancelled",
        "session-attendance-recorded",
        "check-in-due",
        "check-in-completed",
        "check-in-missed",
        "treatment-plan-updated",
    ),
}


def consumers_of(topic: str) -> set[str]:
    return {service for service, topics in CONSUMED.items() if topic in topics}


def consumed_topics() -> list[str]:
    return sorted({topic for topics in CONSUMED.values() for topic in topics})


CONSUMED_LINE = re.compile(r"^carepath_events_consumed_total\{([^}]*)\} ([0-9.e+]+)$", re.M)
OUTCOME = re.compile(r'outcome="([a-z_]+)"')


class ConsumedCounts:
    """Events each replica took off Kafka by outcome, from its /metrics, kept across restarts.

    A restarted process counts from zero, so each incarnation's last reading is kept and
    the incarnations summed: which replica handled what share (the partitions split), and
    how many redeliveries the inbox skipped as duplicates.
    """

    def __init__(self, system: System) -> None:
        self._system = system
        self._last: dict[tuple[str, int, str], float] = defaultdict(float)

    async def sample(self, http: httpx.AsyncClient, only: Process | None = None) -> None:
        for process in [only] if only is not None else self._system.all_processes():
            if not process.alive:
                continue
            try:
                answer = await http.get(process.metrics_url, timeout=5)
            except httpx.TransportError:
                continue
            totals: dict[str, float] = defaultdict(float)
            for labels, value in CONSUMED_LINE.findall(answer.text):
                found = OUTCOME.search(labels)
                if found:
                    totals[found.group(1)] += float(value)
            for outcome, value in totals.items():
                key = (process.label, process.incarnation, outcome)
                self._last[key] = max(self._last[key], value)

    def current(self, process: Process, outcome: str = "handled") -> int:
        return int(self._last[(process.label, process.incarnation, outcome)])

    async def follow(self, http: httpx.AsyncClient, stop: asyncio.Event, every: float = 2.0) -> None:
        while not stop.is_set():
            await self.sample(http)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)

    def by_replica(self, outcome: str = "handled") -> dict[str, int]:
        totals: dict[str, float] = defaultdict(float)
        for (label, _, kind), value in self._last.items():
            if kind == outcome:
                totals[label] += value
        return {label: int(value) for label, value in sorted(totals.items())}

    def total(self, outcome: str) -> int:
        return sum(self.by_replica(outcome).values())


@dataclass
class Fault:
    """One fault and what its recovery took (seconds; None when not observed in time)."""

    fault: str
    target: str
    at: float = field(default_factory=time.time)
    timings: dict[str, float] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"fault": self.fault, "target": self.target, **self.timings, **self.notes}


async def until_ready(process: Process, timeout: float = 150.0) -> float:
    """Seconds until `/readyz` answers 200; a process that exits while starting is started again."""
    started = time.monotonic()
    restarted = False
    process.not_ready_because.clear()
    while time.monotonic() - started < timeout:
        if not process.alive and not restarted:
            restarted = True
            process.restart()
        if await asyncio.to_thread(process.ready):
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise AssertionError(f"{process.label} not ready {timeout} s after its restart:\n{process.tail()}")


async def until_consuming(
    process: Process, counts: ConsumedCounts, http: httpx.AsyncClient, timeout: float = 90.0
) -> float | None:
    """Seconds until the (re)started process has handled an event of its own."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        await counts.sample(http, only=process)
        if counts.current(process) > 0:
            return time.monotonic() - started
        await asyncio.sleep(0.3)
    return None


async def _recover(fault: Fault, process: Process, counts: ConsumedCounts, http: httpx.AsyncClient) -> Fault:
    """Time the restarted process to ready, then to its first handled event."""
    fault.timings["restart_to_ready_s"] = await until_ready(process)
    fault.notes["not_ready_polls"] = dict(process.not_ready_because)
    consuming = await until_consuming(process, counts, http)
    if consuming is not None:
        fault.timings["restart_to_consuming_s"] = fault.timings["restart_to_ready_s"] + consuming
    return fault


async def kill_and_restart(
    process: Process, counts: ConsumedCounts, http: httpx.AsyncClient, *, down_for: float = 2.0
) -> asyncio.Task[Fault]:
    """SIGKILL one replica mid-stream, leave it down a moment, start it on its port again.

    Returns once it is started; the task times its recovery, so the next fault need not
    wait for a Python process to import on a busy machine.
    """
    await counts.sample(http, only=process)
    fault = Fault("kill -9", process.label)
    process.kill()
    await asyncio.sleep(down_for)
    process.restart()
    fault.notes["down_s"] = down_for
    return asyncio.create_task(_recover(fault, process, counts, http))


async def terminate_and_restart(
    process: Process, counts: ConsumedCounts, http: httpx.AsyncClient
) -> asyncio.Task[Fault]:
    """SIGTERM one replica mid-stream: it drains and exits; then it starts again on its port."""
    await counts.sample(http, only=process)
    fault = Fault("SIGTERM", process.label)
    fault.timings["drain_s"] = await asyncio.to_thread(process.terminate)
    fault.notes["exit_code"] = process.popen.returncode
    process.restart()
    return asyncio.create_task(_recover(fault, process, counts, http))


def poison_records(topic: str) -> list[tuple[bytes | None, bytes, dict[str, str]]]:
    """Records `topic`'s consumers can never handle: bad JSON, data missing its fields, no event type."""
    spec = spec_named(topic)

    def headers(event_id: str) -> dict[str, str]:
        envelope = Envelope(
            id=event_id,
            source="/carepath/fault-suite",
            type=spec.type,
            time=datetime.now(UTC),
            subject="poison",
            correlation_id=event_id,
        )
        return envelope.to_headers()

    no_type = headers(f"poison-{uuid.uuid4()}")
    del no_type["ce_type"]
    return [
        (b"poison-bad-json", b"{not json", headers(f"poison-{uuid.uuid4()}")),
        (b"poison-missing-fields", b'{"unexpected": true}', headers(f"poison-{uuid.uuid4()}")),
        (b"poison-no-envelope", b"{}", no_type),
    ]


async def publish_poison(kafka: KafkaSettings) -> dict[str, list[str]]:
    """A set of poison records on every consumed topic; returns their event ids by topic."""
    sent: dict[str, list[str]] = {}
    for topic in consumed_topics():
        records = poison_records(topic)
        await publish_raw(kafka, kafka.topic(topic), records)
        sent[topic] = [h["ce_id"] for _, _, h in records]
    return sent
