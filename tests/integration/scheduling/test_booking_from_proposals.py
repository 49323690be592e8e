"""`match-proposed` on the real broker: one introduction with the best fitting candidate, once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pymongo import AsyncMongoClient

from shared.events.common import Candidate, WeeklyWindow
from shared.events.models import MatchProposed
from tests.integration.scheduling.service import RunningScheduling, new_id, value_of, weekdays
from tests.support.kafka import event, eventually, publish_events


def proposal(
    client_id: str, match_id: str, therapist_ids: list[str], scheduling: RunningScheduling
) -> MatchProposed:
    return MatchProposed(
        match_id=match_id,
        client_id=client_id,
        intake_id=new_id("intake"),
        candidates=[
            Candidate(therapist_id=t, rank=i + 1, score=0.9 - i / 10) for i, t in enumerate(therapist_ids)
        ],
        expires_at=scheduling.clock.now + timedelta(days=1),
        timezone="Europe/London",
        availability=[WeeklyWindow(day=d, start="17:00", end="20:00") for d in ("tue", "wed", "thu")],  # type: ignore[arg-type]
    )


async def test_match_proposed_yields_exactly_one_session_booked_for_the_best_candidate_with_a_fitting_slot(
    scheduling: RunningScheduling, mongo_client: AsyncMongoClient[Any]
) -> None:
    client = new_id("c")
    mornings, evenings = new_id("t-mornings"), new_id("t-evenings")
    # In New York, mornings are outside a London client's evenings; afternoons fit them.
    await scheduling.set_availability(mornings, weekdays("America/New_York", "08:00", "11:00"))
    await scheduling.set_availability(evenings, weekdays("America/New_York", "12:00", "16:00"))
    proposed = event(proposal(client, new_id("match"), [new_id("t-unknown"), mornings, evenings], scheduling))

    await publish_events(scheduling.kafka, proposed)
    [record] = await scheduling.records("session-booked", expect=1)

    booked = value_of(record)
    assert booked["therapist_id"] == evenings and booked["client_id"] == client
    assert (booked["sequence"], booked["kind"]) == (1, "introduction")
    assert booked["join_url"].startswith(scheduling.settings.video_base_url + "/")
    assert booked["timezone"] == "Europe/London"

    # The same event again (a redelivery), the same proposal re-sent under a new event id,
    # then another proposal for the client: once that one is recorded, the others were handled.
    later = proposal(client, new_id("match"), [evenings], scheduling)
    resent = event(proposal(client, proposed.data.match_id, [evenings], scheduling))  # type: ignore[attr-defined]
    await publish_events(scheduling.kafka, proposed, resent, event(later))
    clients = mongo_client[scheduling.settings.database_name]["clients"]

    async def later_recorded() -> bool:
        document = await clients.find_one({"_id": client})
        return document is not None and later.match_id in {p["match_id"] for p in document["proposals"]}

    await eventually(later_recorded)
    document = await clients.find_one({"_id": client})
    assert document is not None and len(document["sessions"]) == 1
    assert len(await scheduling.records("session-booked", expect=2, timeout=3)) == 1
