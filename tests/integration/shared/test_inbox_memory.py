"""The inbox answers fresh events from memory and looks up only those another consumer may
have handled (written before this consumer owned the partition, or before what it forgot)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.storage.inbox import CLOCK_SKEW, Inbox, saved_until_id
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


async def test_a_backlog_newer_than_anything_stored_is_answered_with_one_read_per_partition_given(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    inbox = Inbox(db["inbox"])
    owned_since = datetime.now(UTC)  # a new consumer, catching up on what was written before
    backlog = [owned_since - timedelta(minutes=m) for m in (5, 4, 3)]

    answers = await asyncio.gather(
        *(
            inbox.has_handled("reminders", f"e-{n}", written_at=written, owned_since=owned_since)
            for n, written in enumerate(backlog)
        )
    )

    assert answers == [False, False, False]
    assert round_trips.seen == {("find", "inbox"): 1}, "saved_until read once, no event looked up"


async def test_an_event_no_newer_than_what_a_previous_owner_stored_is_still_looked_up(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    handled_at = datetime.now(UTC) - timedelta(minutes=5)
    previous_owner = Inbox(db["inbox"])
    previous_owner.note_handled("reminders", "e-1", topic="check-in-due", written_at=handled_at)
    await previous_owner.save()
    owned_since = datetime.now(UTC)
    here = Inbox(db["inbox"])
    round_trips.clear()

    resent = await here.has_handled("reminders", "e-1", written_at=handled_at, owned_since=owned_since)
    written_after = handled_at + timedelta(seconds=30)  # before saved_until still: it may have been
    other = await here.has_handled("reminders", "e-2", written_at=written_after, owned_since=owned_since)

    assert resent, "a relay's late resend of a handled event is a duplicate"
    assert not other
    assert round_trips.seen == {("find", "inbox"): 3}, "saved_until once, then both events"


async def test_saved_until_is_written_ahead_so_most_saves_do_not_write_it(
    counted: tuple[AsyncDatabase[Any], RoundTrips],
) -> None:
    db, round_trips = counted
    inbox = Inbox(db["inbox"])
    for n in range(3):
        inbox.note_handled("reminders", f"e-{n}", topic="check-in-due", written_at=datetime.now(UTC))
        await inbox.save()

    assert round_trips.seen[("update", "inbox")] == 1
    assert round_trips.seen[("insert", "inbox")] == 3


async def test_saved_until_only_grows_when_replicas_write_it(mongo_db: AsyncDatabase[Any]) -> None:
    now = datetime.now(UTC)
    ahead = Inbox(mongo_db["inbox"])  # a producer's clock ten minutes fast
    ahead.note_handled("reminders", "e-1", topic="check-in-due", written_at=now + timedelta(minutes=10))
    await ahead.save()
    behind = Inbox(mongo_db["inbox"])
    behind.note_handled("reminders", "e-2", topic="check-in-due", written_at=now)
    await behind.save()

    stored = await mongo_db["inbox"].find_one({"_id": saved_until_id("reminders")})

    assert stored is not None
    assert stored["until"] >= now + timedelta(minutes=11) - timedelta(milliseconds=1), "the later one kept"


async def test_pruning_the_inbox_keeps_saved_until(mongo_db: AsyncDatabase[Any]) -> None:
    inbox = Inbox(mongo_db["inbox"])
    inbox.note_handled("reminders", "e-1", topic="check-in-due", written_at=datetime.now(UTC))
    await inbox.save()

    await inbox.prune(datetime.now(UTC) + timedelta(days=1))

    assert await mongo_db["inbox"].find_one({"_id": saved_until_id("reminders")}) is not None
