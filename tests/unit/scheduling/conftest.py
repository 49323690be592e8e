"""Scheduling's commands and handlers on the in-memory fakes, at a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.scheduling.context import SchedulingContext
from services.scheduling.domain.policy import Policy
from services.scheduling.store import SchedulingStores
from tests.support.fakes import InMemoryDocuments, InMemoryTimers, ManualClock

MONDAY = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, before the US clocks change


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture
def stores() -> SchedulingStores:
    return SchedulingStores(
        therapists=InMemoryDocuments("therapists"),
        clients=InMemoryDocuments("clients"),
        therapist_sessions=InMemoryDocuments("therapist_sessions"),
        session_refs=InMemoryDocuments("session_refs"),
        slot_claims=InMemoryDocuments("slot_claims"),
        calendar_feeds=InMemoryDocuments("calendar_feeds"),
        timers=InMemoryTimers(),
    )


@pytest.fixture
def ctx(stores: SchedulingStores, clock: ManualClock) -> SchedulingContext:
    return SchedulingContext(stores, Policy(), clock)


def weekdays(start: str = "09:00", end: str = "17:00", **extra: Any) -> dict[str, Any]:
    """Availability on every weekday in New York, as the API takes it."""
    days = ["monday", "tuesday", "wednesday", "thursday", "friday"]
    return {
        "timezone": "America/New_York",
        "weekly": [{"day": day, "start": start, "end": end} for day in days],
        **extra,
    }
