"""MongoDB round trips of scheduling's step of the journey (issue 18: a tenth of the work per intake).

Counted with PyMongo's global command monitoring (the service's own client included), from
the event's publication until the care record and the therapist's calendar show it and every
lease went back (the consume pipeline's inbox, the timer worker's sweeps and the liveness
heartbeat are left aside). `SHOW_ROUND_TRIPS=1 pytest -s` prints them all.

A proposal booked at once (`book_at_once`, the bench's journey) took 14 of these: the care
record and the booked therapist's calendar each read twice (once to decide and claim, once
more by their writes). Now each is read once, for its write, the read taking the write's
lease (`store/clients.care_to_write` for the record, `claim_fitting_slot`'s read for writing
for the calendar), and the slot claims go in one ordered insert: 11 with one delete (the two
leases' inserts and their release; one read each of the record, the availability and the
calendar; the slot claims' insert; the session ref; the record's write and its event's
removal after the inline publish; the calendar's write, which finds the calendar's lease
lingering with what the claim's read found).
An acceptance that books (the default policy's journey) went the same way from 14 to 11, and a
proposal kept waiting for the client's choice from 5 to 4.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.scheduling.domain.care import Care, ProposalOutcome
from services.scheduling.store.care_documents import care_from_document
from shared.events.common import Candidate, Weekday, WeeklyWindow
from shared.events.models import MatchAccepted, MatchProposed
from shared.storage.documents import public
from tests.bench.profiling import MongoCommands
from tests.integration.scheduling.service import (
    RunningScheduling,
    new_id,
    running_scheduling,
    scheduling_settings,
    weekdays,
)
from tests.support.infrastructure import Infrastructure
from tests.support.isolation import isolated_place
from tests.support.kafka import eventually

WEEKDAYS = [Weekday(d) for d in ("mon", "tue", "wed", "thu", "fri")]
OTHERS = ("inbox", "replicas", "replicas [scan]", "timers [scan]")
"""What else runs meanwhile: the consume pipeline's handled ids, liveness (the heartbeat, and the
look for peers whose heartbeat ran out), the timer worker's sweeps."""


def commands_own(seen: Counter[str]) -> int:
    """The round trips of the command itself."""
    return sum(n for key, n in seen.items() if key.split(" ", 1)[1] not in OTHERS)


@dataclass
class Counted:
    service: RunningScheduling
    commands: MongoCommands
    database: AsyncDatabase[Any]
    """Read through a client created before the listener: its reads are not counted."""

    async def therapists(self, count: int) -> list[str]:
        """`count` new therapists with weekday availability, their leases gone back."""
        therapists = [new_id("t") for _ in range(count)]
        for therapist in therapists:
            await self.service.set_availability(therapist, weekdays("UTC"))
        await self.let_go()
        return therapists

    async def let_go(self) -> None:
        """Wait until every lease went back (none lingers to make a read free or a write cheaper)
        and every sent event's outbox entry is removed (half a second after its inline publish):
        so a count holds the removals of its own writes, and none of the writes before it."""

        async def none_held() -> bool:
            if await self.database["locks"].count_documents({}):
                return False
            for name in await self.database.list_collection_names():
                if await self.database[name].count_documents({"_outbox_pending": {"$gt": 0}}):
                    return False
            return True

        await eventually(none_held, timeout=20.0, interval=0.05)

    async def recorded(
        self, data: MatchProposed | MatchAccepted, done: Callable[[Care, str], bool], match_id: str = ""
    ) -> Counter[str]:
        """Publish `data`; the round trips until the care record is `done` with the proposal (and the
        calendar shows its session) and every lease went back."""
        client_id, match_id = data.client_id, match_id or data.match_id
        with self.commands.recording():
            await self.service.publish(data)
            care = await self.care_once(client_id, lambda care: done(care, match_id))
            for session in care.sessions:
                await self.on_calendar(session.therapist_id, client_id)
            await self.let_go()
        seen = self.commands.counts()
        if os.environ.get("SHOW_ROUND_TRIPS"):
            print(sorted(seen.items()), commands_own(seen))
        return seen

    async def care_once(self, client_id: str, check: Callable[[Care], bool]) -> Care:
        """The client's care record once it satisfies `check` (read without counting)."""
        found: list[Care] = []

        async def holds() -> bool:
            document = await self.database["clients"].find_one({"_id": client_id})
            if document is not None and check(care := care_from_document(public(document))):
                found.append(care)
                return True
            return False

        await eventually(holds, timeout=20.0, interval=0.05)
        return found[-1]

    async def on_calendar(self, therapist_id: str, client_id: str) -> None:
        async def shown() -> bool:
            found = await self.database["therapist_sessions"].find_one({"_id": therapist_id})
            return found is not None and any(s["client_id"] == client_id for s in found["sessions"])

        await eventually(shown, timeout=20.0, interval=0.05)


@pytest.fixture(scope="module")
async def counted(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[dict[str, Counted]]:
    """Two scheduling services (one booking at once, one waiting for the client's choice) whose
    MongoDB clients were created after the listener went in."""
    commands = MongoCommands.install()
    async with AsyncExitStack() as stack:
        services = {}
        for policy in ("book_at_once", "wait_for_accept"):
            place = await stack.enter_async_context(
                isolated_place(infrastructure, mongo_client, "scheduling")
            )
            settings = scheduling_settings(place.kafka, place.mongo, place.database)
            settings = settings.model_copy(update={"booking_policy": policy})
            service = await stack.enter_async_context(running_scheduling(settings))
            services[policy] = Counted(service, commands, mongo_client[place.database])
        yield services


async def test_a_proposal_booked_at_once_reads_the_care_record_once_for_its_write(
    counted: dict[str, Counted],
) -> None:
    scheduling = counted["book_at_once"]
    therapists = await scheduling.therapists(3)

    first = await scheduling.recorded(proposal(scheduling.service, new_id("c"), therapists), _booked)
    # A second client of the same therapist: their calendar exists now, and is updated.
    second = await scheduling.recorded(proposal(scheduling.service, new_id("c"), therapists), _booked)

    for seen, calendar_write in ((first, "insert therapist_sessions"), (second, "update therapist_sessions")):
        # The care record's lease, taken by its read, given back on the release tick after the
        # command. The calendar takes none: its write checks the revision it read (a second
        # lease before).
        assert seen["insert locks"] == 1 and seen["delete locks"] == 1
        # The record read once, for its write (twice before: to decide, then by the write); the
        # calendar once too, to claim a slot, read for writing: its write reads nothing more,
        # the store keeping what that read found (twice before: a plain read, then the write's).
        assert seen["find clients"] == 1
        assert seen["find therapist_sessions"] == 1
        assert seen["find therapists"] == 1  # the availability slots are computed from
        assert seen["insert slot_claims"] == 1  # one ordered insert of all the cells
        assert seen["insert session_refs"] == 1
        assert seen["insert clients"] == 1  # a new client's record, session-booked in its outbox
        assert seen["update clients"] == 1  # the event's removal, half a second after its inline publish
        assert seen[calendar_write] == 1
        # 10 (11 with a lease for the calendar, 13 before, 14 before that); a loaded machine may
        # add one (a lease that waited looks up its holder): the counts above are the ones this pins.
        assert commands_own(seen) in (10, 11), sorted(seen.items())


async def test_an_acceptance_and_a_waiting_proposal_read_the_care_record_once_for_its_write(
    counted: dict[str, Counted],
) -> None:
    scheduling = counted["wait_for_accept"]
    therapists = await scheduling.therapists(1)
    proposed = proposal(scheduling.service, new_id("c"), therapists)

    kept = await scheduling.recorded(proposed, _waiting)
    accepted = MatchAccepted(
        match_id=proposed.match_id,
        client_id=proposed.client_id,
        therapist_id=therapists[0],
        accepted_at=scheduling.service.clock.now,
    )
    booked = await scheduling.recorded(accepted, _booked, proposed.match_id)

    # Kept waiting: read once, for its write, under the lease that write then uses (read twice before).
    assert kept["insert locks"] == 1 and kept["delete locks"] in (1, 2)  # the tick may split them
    assert kept["find clients"] == kept["insert clients"] == 1
    assert commands_own(kept) - kept["delete locks"] in (3, 4), sorted(
        kept.items()
    )  # 4 with one delete, 5 before
    # Accepted and booked: as a proposal booked at once, on an existing record.
    assert booked["insert locks"] == booked["delete locks"] == 1  # the care record's alone
    assert booked["find clients"] == 1  # two before
    assert booked["find therapist_sessions"] == 1  # the claim's read for writing; the write's is free
    assert booked["update clients"] == 2  # the booking, then (half a second later) its event's removal
    assert booked["insert therapist_sessions"] == 1
    assert booked["insert slot_claims"] == 1  # one ordered insert of all the cells
    # 10 (11 with a lease for the calendar, 13 before, 14 before that)
    assert commands_own(booked) in (10, 11), sorted(booked.items())


def proposal(service: RunningScheduling, client_id: str, therapist_ids: list[str]) -> MatchProposed:
    """Matching proposes `therapist_ids`, best first (client in UTC, weekdays 08:00-18:00)."""
    return MatchProposed(
        match_id=new_id("match"),
        client_id=client_id,
        intake_id=new_id("intake"),
        candidates=[
            Candidate(therapist_id=t, rank=i + 1, score=0.9 - i / 10) for i, t in enumerate(therapist_ids)
        ],
        expires_at=service.clock.now + timedelta(days=2),
        timezone="UTC",
        availability=[WeeklyWindow(day=d, start="08:00", end="18:00") for d in WEEKDAYS],
    )


def _booked(care: Care, match_id: str) -> bool:
    """The proposal is booked, and the care record holds its session."""
    found = care.proposal(match_id)
    return found is not None and found.outcome is ProposalOutcome.booked and len(care.sessions) == 1


def _waiting(care: Care, match_id: str) -> bool:
    found = care.proposal(match_id)
    return found is not None and found.outcome is ProposalOutcome.waiting
