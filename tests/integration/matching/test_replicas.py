"""Two matching replicas on one database: capacity never oversubscribed, directories kept current.

Each replica is matching's stores and read model on a runtime of its own (its own leases,
heartbeat and in-process directory), as `python -m services.matching` builds them, without
Kafka consumers: the handlers are called directly, at the same moment, as two replicas
would each call them for the partitions they own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.matching.app import matching_context
from services.matching.commands.put_therapist import PutTherapist, put_therapist
from services.matching.context import MatchingContext
from services.matching.handlers.on_intake_completed import on_intake_completed
from services.matching.handlers.on_session_booked import on_session_booked
from services.matching.store import journal
from shared.events.envelope import Envelope, new_event
from shared.ports import Documents
from shared.runtime import ServiceRuntime
from shared.settings import KafkaSettings, MongoSettings
from shared.storage import Document
from shared.storage.documents import Change
from tests.integration.matching.service import Place, matching_settings, new_id
from tests.support.kafka import drop_topics
from tests.unit.matching.builders import profile, session_booked


@pytest.fixture
async def replicas(
    request: pytest.FixtureRequest,
    kafka_settings: KafkaSettings,
    mongo_settings: MongoSettings,
    mongo_db: AsyncDatabase[Any],
) -> AsyncIterator[list[MatchingContext]]:
    """Two replicas proposing `top_k` therapists (1, or the test's indirect parameter)."""
    top_k = getattr(request, "param", 1)
    settings = matching_settings(kafka_settings, mongo_settings, mongo_db.name, top_k=top_k)
    async with AsyncExitStack() as stack:
        built = []
        for _ in range(2):
            runtime = ServiceRuntime(settings)
            built.append(matching_context(runtime, settings))
            await stack.enter_async_context(runtime)
        yield built
    await drop_topics(kafka_settings)


async def handle_intake(replica: MatchingContext, place: Place) -> Any:
    data = place.intake()
    outgoing = new_event(data, source="tests")
    await on_intake_completed(replica)(data, outgoing.envelope)
    return await replica.proposals.get(
        next(iter((await replica.clients.get(data.client_id) or {})["match_ids"]))
    )


async def test_two_replicas_proposing_at_once_never_oversubscribe_a_therapist(
    replicas: list[MatchingContext],
) -> None:
    place = Place()
    first = replicas[0]
    await put_therapist(
        PutTherapist("t-two", profile(licensed_jurisdictions=[place.jurisdiction], capacity=2)), first
    )
    await put_therapist(
        PutTherapist("t-one", profile(licensed_jurisdictions=[place.jurisdiction], capacity=1)), first
    )
    for replica in replicas:
        await replica.directory.current()  # both loaded: each believes every place is free
    proposals = await asyncio.gather(*(handle_intake(replicas[n % 2], place) for n in range(6)))
    chosen = [p["candidates"][0]["therapist_id"] for p in proposals if p["candidates"]]
    assert sorted(chosen) == ["t-one", "t-two", "t-two"]
    assert sorted(p["reasons"] for p in proposals if not p["candidates"]) == [["at_capacity"]] * 3
    for therapist_id, capacity in (("t-two", 2), ("t-one", 1)):
        document = await first.therapists.get(therapist_id)
        assert document is not None and len(document["holds"]) == capacity


async def test_a_replica_sees_a_therapist_another_replica_added_before_it_ranks(
    replicas: list[MatchingContext],
) -> None:
    place = Place()
    first, second = replicas
    await second.directory.current()  # loaded before the therapist existed
    therapist_id = new_id("t")
    await put_therapist(
        PutTherapist(therapist_id, profile(licensed_jurisdictions=[place.jurisdiction])), first
    )
    proposal = await handle_intake(second, place)
    assert [c["therapist_id"] for c in proposal["candidates"]] == [therapist_id]
    seen = second.directory.index.get(therapist_id)
    assert seen is not None and seen.live_holds(second.clock()) == 1


async def test_a_replica_learns_of_holds_placed_by_another_through_the_journal(
    replicas: list[MatchingContext],
) -> None:
    place = Place()
    first, second = replicas
    therapist_id = f"t-{uuid.uuid4().hex[:6]}"
    await put_therapist(
        PutTherapist(therapist_id, profile(licensed_jurisdictions=[place.jurisdiction], capacity=3)), first
    )
    await second.directory.current()
    await handle_intake(first, place)
    await handle_intake(first, place)
    seen = (await second.directory.current()).get(therapist_id)
    assert seen is not None and seen.live_holds(second.clock()) == 2


async def test_two_replicas_appending_at_once_write_every_change_in_consecutive_entries(
    replicas: list[MatchingContext], mongo_db: AsyncDatabase[Any]
) -> None:
    for replica in replicas:
        await replica.directory.current()  # both at the same version: both aim at the same next one
    changes = {n: journal.ref(journal.THERAPISTS, f"t-{n}") for n in range(12)}

    await asyncio.gather(*(replicas[n % 2].directory.record([ref]) for n, ref in changes.items()))

    entries = [e async for e in mongo_db[journal.COLLECTION].find({"v": {"$exists": True}})]
    assert sorted(e["v"] for e in entries) == list(range(1, len(entries) + 1)), "no gap, no duplicate"
    assert {r for e in entries for r in e["refs"]} == set(changes.values()), "no change lost"
    assert len({e["by"] for e in entries}) == 2


class BookingWatched:
    """A proposals store that notes, as a proposal is booked, how many holds another replica's
    directory (caught up) still counts on `therapist_id`."""

    def __init__(self, store: Documents, other: MatchingContext, therapist_id: str) -> None:
        self._store, self._other, self._therapist_id = store, other, therapist_id
        self.held_when_booked: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def update(
        self, document_id: str, change: Change, *, cause: Envelope | None = None
    ) -> Document | None:
        seen = (await self._other.directory.current()).get(self._therapist_id)
        assert seen is not None
        self.held_when_booked.append(seen.live_holds(self._other.clock()))
        return await self._store.update(document_id, change, cause=cause)


@pytest.mark.parametrize("replicas", [2], indirect=True)
async def test_a_proposal_is_booked_only_once_every_replica_sees_its_other_candidates_free(
    replicas: list[MatchingContext],
) -> None:
    place = Place()
    first, second = replicas
    for therapist_id in (new_id("t"), new_id("t")):
        await put_therapist(
            PutTherapist(therapist_id, profile(licensed_jurisdictions=[place.jurisdiction], capacity=1)),
            first,
        )
    proposal = await handle_intake(first, place)
    chosen, other = (c["therapist_id"] for c in proposal["candidates"])
    watched = BookingWatched(first.proposals, second, other)
    booking = session_booked(chosen, client_id=proposal["client_id"], match_id=proposal["_id"])

    await on_session_booked(replace(first, proposals=watched))(
        booking, new_event(booking, source="tests").envelope
    )

    assert watched.held_when_booked == [0], "a switch seeing the proposal booked finds the other free"
    assert (await first.proposals.get(proposal["_id"]) or {})["status"] == "booked"
