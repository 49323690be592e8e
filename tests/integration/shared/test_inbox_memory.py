"""The inbox answers fresh events from memory and looks up only those another consumer may
have handled (written before this consumer owned the partition, or before what it forgot)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.storage.inbox import CLOCK_SKEW, Inbox
from tests.support.round_trips import RoundTrips

OWNED_SINCE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FRESH = OWNED_SINCE + CLOCK_SKEW + timedelta(seconds=1)


async def test_an_event_written_since_the_partition_was_given_here_is_answered_from_memory(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    inbox = Inbox(db["inbox"])

    assert not await inbox.has_handled("matching", "e-1", written_at=FRESH, owned_since=OWNED_SINCE)
    inbox.note_handled("matching", "e-1", topic="intake-completed", written_at=FRESH)
    await inbox.save()
    round_trips.clear()

    assert await inbox.has_handled("matching", "e-1", written_at=FRESH, owned_since=OWNED_SINCE)
    assert not await inbox.has_handled("matching", "e-2", written_at=FRESH, owned_since=OWNED_SINCE)
    assert round_trips.seen == {}, "neither was looked up"


async def test_an_event_written_before_the_partition_was_given_here_is_looked_up(
    mongo_db: AsyncDatabase[Any],
) -> None:
    previous_owner = Inbox(mongo_db["inbox"])
    written = OWNED_SINCE - timedelta(seconds=30)
    previous_owner.note_handled("matching", "e-1", topic="intake-completed", written_at=written)
    await previous_owner.save()

    here = Inbox(mongo_db["inbox"])

    assert await here.has_handled("matching", "e-1", written_at=written, owned_since=OWNED_SINCE)
    assert await here.has_handled(  # within the clock skew margin: looked up too
        "matching", "e-1", written_at=OWNED_SINCE + CLOCK_SKEW, owned_since=OWNED_SINCE
    )
    assert await here.has_handled("matching", "e-1")  # no partition known: looked up


async def test_once_ids_are_forgotten_events_written_before_the_newest_forgotten_are_looked_up(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    inbox = Inbox(db["inbox"], remembered=2)
    times = [FRESH + timedelta(minutes=n) for n in range(3)]
    for n, written in enumerate(times):
        inbox.note_handled("matching", f"e-{n}", topic="intake-completed", written_at=written)
    await inbox.save()  # e-0 is forgotten: events written up to its time may have been handled
    round_trips.clear()

    assert await inbox.has_handled("matching", "e-0", written_at=times[0], owned_since=OWNED_SINCE)
    assert round_trips.seen[("find", "inbox")] == 1, "looked up: it was forgotten"
    later = times[0] + CLOCK_SKEW + timedelta(seconds=1)
    assert not await inbox.has_handled("matching", "e-9", written_at=later, owned_since=OWNED_SINCE)
    assert round_trips.seen[("find", "inbox")] == 1, "written after everything forgotten: memory"


async def test_an_event_is_recognised_while_its_id_is_being_stored(mongo_db: AsyncDatabase[Any]) -> None:
    inbox = Inbox(mongo_db["inbox"])
    inbox.note_handled("matching", "e-1", topic="intake-completed", written_at=FRESH)

    saving = asyncio.create_task(inbox.save())
    await asyncio.sleep(0)  # the save has taken the noted ids and waits for the server
    meanwhile = await inbox.has_handled("matching", "e-1", written_at=FRESH, owned_since=OWNED_SINCE)
    await saving

    assert meanwhile, "a copy arriving during the save is a duplicate"
