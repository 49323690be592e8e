"""Bookings of one therapist at once, over two replicas (real database and broker).

Each booking reads the therapist's calendar for writing (`claim_fitting_slot`): the read takes
the calendar's lease and leaves it lingering with what it found, so the calendar's write that
ends the booking needs no read of its own. What that relies on: the claims alone decide who
gets a slot (never a calendar read), and a write that finds the lease lingering applies its
change to the calendar as the last write left it, so none of the bookings' sessions is lost
from it, whichever replica or booking wrote it last.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.scheduling.domain.care import Care, ProposalOutcome
from shared.events.common import Candidate, Weekday, WeeklyWindow
from shared.events.models import MatchProposed
from shared.settings import KafkaSettings, MongoSettings
from tests.integration.scheduling.service import (
    RunningScheduling,
    new_id,
    running_replicas,
    scheduling_settings,
    weekdays,
)
from tests.support.fakes import ManualClock
from tests.support.kafka import eventually

BOOKINGS = 16
WEEKDAYS = [Weekday(d) for d in ("mon", "tue", "wed", "thu", "fri")]


async def test_bookings_of_one_therapist_at_once_over_two_replicas_each_get_their_own_slot_on_the_calendar(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongo_db: AsyncDatabase[Any]
) -> None:
    settings = scheduling_settings(kafka_settings, mongo_settings, mongo_db.name)
    settings = settings.model_copy(update={"booking_policy": "book_at_once"})
    async with running_replicas(settings, ManualClock(datetime.now(UTC))) as (first, _second):
        therapist = new_id("t")
        await first.set_availability(therapist, weekdays("UTC"))
        clients = [new_id("c") for _ in range(BOOKINGS)]
        for client in clients:  # partitions by client: both replicas book, side by side
            await first.publish(_proposal(first, client, therapist))

        booked = [await _booked(first, client) for client in clients]
        calendar = await _calendar_showing(mongo_db, therapist, BOOKINGS)

    sessions = [s for care in booked for s in care.sessions]
    assert len(sessions) == BOOKINGS and {s.therapist_id for s in sessions} == {therapist}
    spans = sorted((s.starts_at, s.ends_at) for s in sessions)
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))
    assert {s["session_id"] for s in calendar} == {s.session_id for s in sessions}


def _proposal(service: RunningScheduling, client_id: str, therapist_id: str) -> MatchProposed:
    return MatchProposed(
        match_id=new_id("match"),
        client_id=client_id,
        intake_id=new_id("intake"),
        candidates=[Candidate(therapist_id=therapist_id, rank=1, score=0.9)],
        expires_at=service.clock.now + timedelta(days=2),
        timezone="UTC",
        availability=[WeeklyWindow(day=d, start="08:00", end="18:00") for d in WEEKDAYS],
    )


async def _booked(service: RunningScheduling, client_id: str) -> Care:
    def booked(care: Care) -> bool:
        return len(care.sessions) == 1 and all(p.outcome is ProposalOutcome.booked for p in care.proposals)

    return await service.until(client_id, booked)


async def _calendar_showing(db: AsyncDatabase[Any], therapist_id: str, count: int) -> list[dict[str, Any]]:
    """The therapist's calendar once it shows `count` sessions."""
    found: list[list[dict[str, Any]]] = []

    async def shows() -> bool:
        document = await db["therapist_sessions"].find_one({"_id": therapist_id})
        sessions = list((document or {}).get("sessions") or ())
        found.append(sessions)
        return len(sessions) == count

    await eventually(shows, timeout=30.0, interval=0.1)
    return found[-1]
