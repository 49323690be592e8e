"""MongoDB round trips of intake's journey steps on the real service (issue 18: a tenth of the work).

Counted with PyMongo's global command monitoring (the service's own client included), from
the request or the event's publication until the service let go of every lease it took (its
writes, their inline publish and the outbox removal are all done by then). Per intake of the
journey (submit -> `intake-completed` -> `match-proposed` -> `session-booked` by the system)
intake answers the submit and follows both events in the client's record.
`SHOW_ROUND_TRIPS=1 pytest -s` prints them all.

Measured per intake here (the bench's journey trace said 14.1 with two `find intakes`):
- the client's submit 8 -> 7 -> 6: the intake read once, taking its write's lease (`find
  intakes` 2 -> 1, the commit before), then no read of the client's record (`find clients`
  1 -> 0): the client, an admin or a service are allowed by who they are; a clinician's
  submit still reads it, for the relationship;
- `match-proposed` 4: the record's lease, read, write and release;
- a system's `session-booked` (`book_at_once`) 3 -> 0 when the record's lease no longer
  lingers from the proposal (about 8% in the bench): it moves no relationship whatever the
  record holds, so the record is neither read nor written;
besides the consume pipeline's handled-id store (`find inbox`, `insert inbox` per event).

So the bench's 10.0 per intake is the submit's 6 plus the `match-proposed` fold's 4. In the
bench's command sequence the fold's `clients` lease, read and write follow the submit's
`insert audit` within tens of milliseconds, but they are another request's: the fold of the
proposal matching made for that intake (the intake's `insert inbox` of that event follows).
The submit takes no lease of the client's record and does not touch it, so there is no
client write to take under the intake's lease, nor to run beside the intake's write; taking
the record's lease at the submit for the proposal to come would gamble on it arriving within
the lease's linger (0.1 s; at 10/s `to_match_proposed` takes longer) and make a fold in
another replica wait for it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.http.auth import Role
from tests.bench.profiling import MongoCommands
from tests.integration.intake.service import (
    RunningIntake,
    as_client,
    bearer,
    handled,
    new_id,
    relate,
    running_intake,
)
from tests.support.infrastructure import Infrastructure
from tests.support.isolation import isolated_place
from tests.support.kafka import eventually
from tests.unit.intake import samples
from tests.unit.intake.samples import complete_sections


@dataclass
class Counted:
    service: RunningIntake
    commands: MongoCommands
    database: AsyncDatabase[Any]
    """Read through a client created before the listener: its reads are not counted."""
    mongo: AsyncMongoClient[Any]

    async def let_go_of(self, *resources: str) -> None:
        """Wait until the service gave back these leases (`<collection>/<id>`): a document whose
        lease still lingers is read from it, without a round trip, and its release is counted."""

        async def let_go() -> bool:
            return await self.database["locks"].count_documents({"_id": {"$in": list(resources)}}) == 0

        await eventually(let_go, timeout=20.0, interval=0.05)

    async def sent(self, intake_id: str) -> None:
        """Wait until the intake holds no pending event: the removal of what the inline publish
        sent comes half a second later (`relay_removal_delay_seconds`)."""

        async def removed() -> bool:
            stored = await self.database["intakes"].find_one({"_id": intake_id})
            return stored is not None and stored["_outbox_pending"] == 0

        await eventually(removed, timeout=20.0, interval=0.05)


@pytest.fixture(scope="module")
async def counted(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[Counted]:
    """An intake service whose MongoDB client was created after the listener went in."""
    commands = MongoCommands.install()
    async with (
        isolated_place(infrastructure, mongo_client, "intake") as place,
        running_intake(place.kafka, place.mongo, place.database) as service,
    ):
        yield Counted(service, commands, mongo_client[place.database], mongo_client)


async def draft(counted: Counted, client_id: str) -> str:
    """A complete draft of the client's, its leases given back (as in the bench: drafts are ready)."""
    created = await counted.service.http.post(
        "/v1/intakes", json={"client_id": client_id, **complete_sections()}, headers=as_client(client_id)
    )
    assert created.status_code == 201, created.text
    intake_id = str(created.json()["id"])
    await counted.let_go_of(f"intakes/{intake_id}", f"clients/{client_id}")
    return intake_id


async def test_a_clients_own_submit_reads_the_intake_once_and_not_the_client_record(counted: Counted) -> None:
    client_id = new_id("client")
    intake_id = await draft(counted, client_id)

    with counted.commands.recording():
        answer = await counted.service.http.post(
            f"/v1/intakes/{intake_id}/submit", headers=as_client(client_id)
        )
        assert answer.status_code == 200, answer.text
        await counted.let_go_of(f"intakes/{intake_id}")
        await counted.sent(intake_id)
        await asyncio.sleep(0.3)
    seen = counted.commands.counts()
    if os.environ.get("SHOW_ROUND_TRIPS"):
        print(sorted(seen.items()), sum(seen.values()))

    stored = await counted.database["intakes"].find_one({"_id": intake_id})
    assert stored is not None and stored["status"] == "submitted"
    # The route reads the intake for its write, which then reads nothing (two reads once), and
    # no lease is taken: the write checks the revision read (a lease and its release before).
    assert seen["find intakes"] == 1
    assert seen["insert locks"] == seen["delete locks"] == 0
    # The client's own submit needs nothing of their record to be allowed (one read before).
    assert seen["find clients"] == 0
    # The submission with its events, then their removal after the inline publish: half a
    # second later, in one write with other documents' sent entries due then (alone here).
    assert seen["update intakes"] == 2
    assert seen["insert audit"] == 1
    assert seen["update clients"] == seen["insert clients"] == 0
    # Nothing else: the intake's read, its write, the outbox removal, the audit (6 before); the
    # replica's liveness (its heartbeat, the look for dead peers), once a second, may fall into
    # the window, and so may the commit of handled ids, every half second.
    background = ("update replicas", "find replicas [scan]", "insert inbox")
    assert sum(n for command, n in seen.items() if command not in background) == 4, sorted(seen.items())


async def test_a_clinicians_submit_on_behalf_still_reads_the_client_record_for_the_relationship(
    counted: Counted,
) -> None:
    client_id, therapist_id = new_id("client"), new_id("therapist")
    intake_id = await draft(counted, client_id)
    await relate(
        counted.service, samples.proposed(client_id, therapist_id), samples.accepted(client_id, therapist_id)
    )

    async def chosen() -> bool:
        record = await counted.database["clients"].find_one({"_id": client_id})
        return record is not None and any(r["state"] == "chosen" for r in record["relationships"])

    await eventually(chosen)
    await counted.let_go_of(f"clients/{client_id}")

    with counted.commands.recording():
        answer = await counted.service.http.post(
            f"/v1/intakes/{intake_id}/submit",
            json={"on_behalf_of": {"method": "phone", "reason": "Client dictated answers on a call"}},
            headers=bearer(therapist_id, Role.clinician),
        )
        assert answer.status_code == 200, answer.text
    seen = counted.commands.counts()

    assert seen["find clients"] == 1  # a clinician's access is the relationship's: it is read


async def test_match_proposed_folds_in_one_write_unread_and_a_systems_booking_writes_nothing(
    counted: Counted,
) -> None:
    client_id, therapists = new_id("client"), [new_id("therapist") for _ in range(3)]
    await draft(counted, client_id)

    with counted.commands.recording():
        await relate(counted.service, samples.proposed(client_id, *therapists))

        async def proposed() -> bool:
            record = await counted.database["clients"].find_one({"_id": client_id})
            return record is not None and len(record["relationships"]) == 3

        await eventually(proposed, timeout=20.0, interval=0.05)
        await counted.let_go_of(f"clients/{client_id}")
    folded = counted.commands.counts()

    with counted.commands.recording():
        await handled(counted.service, counted.mongo, samples.booked(client_id, therapists[0], by="system"))
        await asyncio.sleep(0.3)
    booked = counted.commands.counts()
    if os.environ.get("SHOW_ROUND_TRIPS"):
        print(sorted(folded.items()), sum(folded.values()))
        print(sorted(booked.items()), sum(booked.values()))

    # One write (no events: nothing to remove), of the record as this replica last wrote it
    # (the draft's): no read, and no lease (a lease, a read, the write and the release before).
    assert folded["update clients"] == 1
    assert folded["insert locks"] == folded["find clients"] == folded["delete locks"] == 0
    # A booking by the system moves no relationship whatever the record holds: no lease, no
    # read, no write (a lease, a read and its release before, when no lease lingered).
    assert booked["insert locks"] == booked["find clients"] == booked["delete locks"] == 0
    assert booked["update clients"] == 0
    record = await counted.database["clients"].find_one({"_id": client_id})
    assert record is not None
    assert {r["state"] for r in record["relationships"]} == {"proposed"}
