"""MongoDB round trips of matching's writes to therapists (issue 18: a tenth of the work per intake).

Counted with PyMongo's global command monitoring (the service's own client included). What is
pinned does not depend on timing: a proposal's holds on its three candidates are one bulk write
of the therapists, and a booking's caseload entry and the other candidates' releases another
(`DocumentStore.update_many`; three and three leased writes of their own before).
`SHOW_ROUND_TRIPS=1 pytest -s` prints them all.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.matching.store.therapists import capacity_of
from services.matching.timers import PROPOSAL_EXPIRY
from tests.bench.profiling import MongoCommands
from tests.integration.matching.service import Place, RunningMatching, candidate_ids, new_id, running_matching
from tests.support.infrastructure import Infrastructure
from tests.support.isolation import isolated_place
from tests.support.kafka import eventually
from tests.unit.matching.builders import session_booked

PLAIN = {"specialties": [{"concern": "anxiety", "years": 2}]}


@dataclass
class Counted:
    service: RunningMatching
    commands: MongoCommands
    database: AsyncDatabase[Any]
    """Read through a client created before the listener: its reads are not counted."""


@pytest.fixture(scope="module")
async def counted(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[Counted]:
    """A matching service whose MongoDB client was created after the listener went in."""
    commands = MongoCommands.install()
    async with (
        isolated_place(infrastructure, mongo_client, "matching") as place,
        running_matching(place.kafka, place.mongo, place.database) as service,
    ):
        yield Counted(service, commands, mongo_client[place.database])


async def test_a_proposal_holds_its_candidates_and_a_booking_settles_them_in_one_write_each(
    counted: Counted,
) -> None:
    matching = counted.service
    place = Place()
    therapists = [new_id(f"t-{n}") for n in range(3)]
    await matching.put_therapists(place, *((t, PLAIN) for t in therapists))

    async def expiry_timer_set() -> bool:  # scheduled after match-proposed is published
        return await counted.database["timers"].count_documents({"kind": PROPOSAL_EXPIRY}) > before

    before = await counted.database["timers"].count_documents({"kind": PROPOSAL_EXPIRY})
    with counted.commands.recording():
        data, proposal = await matching.propose(place)
        await eventually(expiry_timer_set, timeout=20.0, interval=0.05)
    proposed = counted.commands.counts()
    assert sorted(candidate_ids(proposal)) == sorted(therapists)
    chosen, *others = candidate_ids(proposal)

    async def settled() -> bool:
        documents = {
            d["_id"]: d async for d in counted.database["therapists"].find({"_id": {"$in": therapists}})
        }
        return not any(capacity_of(documents[t]).holds_for(proposal["match_id"]) for t in others) and any(
            c.client_id == data.client_id for c in capacity_of(documents[chosen]).caseload
        )

    async def leases_gone() -> bool:  # the booking meets no lease lingering from the proposal
        return await counted.database["locks"].count_documents({}) == 0

    await eventually(leases_gone, timeout=20.0, interval=0.05)
    with counted.commands.recording():
        await matching.publish(
            session_booked(chosen, client_id=data.client_id, match_id=proposal["match_id"])
        )
        await eventually(settled, timeout=20.0, interval=0.05)
    booked = counted.commands.counts()
    if os.environ.get("SHOW_ROUND_TRIPS"):
        print(sorted(proposed.items()), sorted(booked.items()))

    assert proposed["update therapists"] == 1, "three holds, one bulk write"
    assert proposed["find clients"] == 1, "the client read once, holding the lease its record then reuses"
    assert not proposed.get("find proposals"), "a new intake: its proposal cannot exist, no look"
    assert proposed["insert timers"] == 1 and not proposed.get("find timers_done"), (
        "a new proposal's expiry timer cannot have fired: no look in timers_done"
    )
    assert booked["update therapists"] == 1, "the caseload and two releases, one bulk write"
    assert booked["find clients"] == booked["find proposals"] == 1, "each read once, for its write"
