"""The waitlist: its order, whom a trigger re-matches, and re-matching on the in-memory fakes."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import timedelta
from typing import Any

from services.matching.commands.decline_match import DeclineMatch, decline_match
from services.matching.commands.put_therapist import PutTherapist, put_therapist
from services.matching.commands.rematch_waitlist import RematchWaitlist, rematch_waitlist
from services.matching.domain import filters
from services.matching.domain.waitlist import Waiting, in_order, joined, opens_room, to_rematch, without
from services.matching.handlers.on_intake_completed import on_intake_completed
from services.matching.handlers.on_session_booked import on_session_booked
from services.matching.handlers.on_session_cancelled import on_session_cancelled
from services.matching.handlers.on_therapist_availability_changed import on_therapist_availability_changed
from services.matching.handlers.on_treatment_plan_updated import on_treatment_plan_updated
from services.matching.store.waitlist import WAITLIST_ID, entries_of
from shared.events.envelope import Envelope
from shared.events.models import MatchProposed, TreatmentPlanUpdated
from tests.unit.matching.builders import (
    NOW,
    Fakes,
    availability_changed,
    delivered,
    intake,
    profile,
    session_booked,
    session_cancelled,
    therapist,
)

# ---------------------------------------------------------------------- the pure rules


def waiting(client_id: str, minutes: int, *, jurisdiction: str = "US-CA", **overrides: Any) -> Waiting:
    fields: dict[str, Any] = {
        "client_id": client_id,
        "match_id": f"m-{client_id}",
        "since": NOW + timedelta(minutes=minutes),
        "jurisdiction": jurisdiction,
        "languages": frozenset({"en"}),
    }
    return Waiting(**(fields | overrides))


def test_the_waitlist_is_oldest_first_with_ties_by_client_id() -> None:
    listed = in_order([waiting("c", 5), waiting("b", 0), waiting("a", 0)])
    assert [w.client_id for w in listed] == ["a", "b", "c"]


def test_a_client_waits_once_and_a_newer_wait_takes_the_place_of_theirs() -> None:
    listed = joined([waiting("a", 0), waiting("b", 5)], waiting("a", 10, match_id="m-a-2"))
    assert [(w.client_id, w.match_id) for w in listed] == [("b", "m-b"), ("a", "m-a-2")]


def test_leaving_on_a_given_wait_leaves_a_newer_wait_in_place() -> None:
    listed = [waiting("a", 10, match_id="m-a-2")]
    assert without(listed, "a", "m-a") == listed  # a stale leave
    assert without(listed, "a", "m-a-2") == [] and without(listed, "a") == []


def test_a_trigger_rematches_the_oldest_clients_its_therapist_could_take_up_to_the_limit() -> None:
    listed = [
        waiting("ny-oldest", 0, jurisdiction="US-NY"),
        waiting("ca-1", 1),
        waiting("ca-spanish", 2, languages=frozenset({"es"})),
        waiting("ca-acute", 3, high_acuity=True),
        waiting("ca-2", 4),
        waiting("ca-3", 5),
    ]
    able = therapist("t-ca")
    assert [w.client_id for w in to_rematch(listed, [able], NOW, 2)] == ["ca-1", "ca-2"]
    assert [w.client_id for w in to_rematch(listed, [able], NOW, 20)] == ["ca-1", "ca-2", "ca-3"]
    country_wide = therapist("t-us", licensed_jurisdictions=["US"], high_acuity=True, languages=["en", "es"])
    assert len(to_rematch(listed, [country_wide], NOW, 20)) == 6


def test_a_therapist_who_is_full_or_closed_or_unknown_rematches_nobody() -> None:
    listed = [waiting("a", 0)]
    assert to_rematch(listed, [therapist("t-full", capacity=1, caseload=["x"])], NOW, 20) == []
    assert to_rematch(listed, [therapist("t-closed", accepting_new_clients=False)], NOW, 20) == []
    assert to_rematch(listed, [None], NOW, 20) == []
    assert [w.client_id for w in to_rematch(listed, [None, therapist("t-ok")], NOW, 20)] == ["a"]


def test_a_profile_put_triggers_only_when_it_may_give_someone_a_therapist() -> None:
    before = profile().model_dump(mode="json")
    assert opens_room(None, before)  # a new therapist
    assert opens_room(before, profile(capacity=20).model_dump(mode="json"))
    assert opens_room(before, profile(accepting_new_clients=False).model_dump(mode="json"))
    assert opens_room(before, profile(licensed_jurisdictions=["US-CA", "US-NV"]).model_dump(mode="json"))
    assert not opens_room(before, profile(price_per_session=90).model_dump(mode="json"))


# ---------------------------------------------------------------------- re-matching


async def propose_for(fakes: Fakes, client_id: str, *, at_minutes: int = 0, **fields: Any) -> MatchProposed:
    fakes.clock.now = NOW + timedelta(minutes=at_minutes)
    data = intake(**({"client_id": client_id, "intake_id": f"intake-{client_id}"} | fields))
    await on_intake_completed(fakes.matching)(*delivered(data))
    proposed: MatchProposed = fakes.published("match-proposed")[-1]
    assert proposed.client_id == client_id
    return proposed


def proposals_of(fakes: Fakes, client_id: str) -> list[MatchProposed]:
    return [p for p in fakes.published("match-proposed") if p.client_id == client_id]


def waiting_ids(fakes: Fakes) -> list[str]:
    return [w.client_id for w in entries_of(fakes.waitlist.documents.get(WAITLIST_ID))]


async def full_house(fakes: Fakes) -> None:
    """One therapist with one place, taken by `holder`; `old` and `young` wait (old first)."""
    await put_therapist(PutTherapist("t-one", profile(capacity=1)), fakes.matching)
    await propose_for(fakes, "holder")
    for client_id, minutes in (("old", 1), ("young", 2)):
        empty = await propose_for(fakes, client_id, at_minutes=minutes)
        assert empty.candidates == [] and empty.waitlisted and empty.reasons[0] == filters.AT_CAPACITY


async def test_an_empty_proposal_puts_the_client_on_the_waitlist() -> None:
    fakes = Fakes(top_k=1)
    await full_house(fakes)
    assert waiting_ids(fakes) == ["old", "young"]
    wait = fakes.clients.documents["old"]["waitlist"]
    assert wait["match_id"] == proposals_of(fakes, "old")[0].match_id
    assert wait["since"] == NOW + timedelta(minutes=1)


async def test_more_capacity_rematches_the_oldest_waiting_client_first_and_tells_the_others_nothing() -> None:
    fakes = Fakes(top_k=1)
    await full_house(fakes)
    await put_therapist(PutTherapist("t-one", profile(capacity=2)), fakes.matching)
    (empty, matched) = proposals_of(fakes, "old")
    assert (matched.origin, matched.predecessor_match_id, matched.waitlisted) == (
        "waitlist",
        empty.match_id,
        False,
    )
    assert [c.therapist_id for c in matched.candidates] == ["t-one"]
    assert len(proposals_of(fakes, "young")) == 1  # still waiting: no second "we keep looking"
    assert waiting_ids(fakes) == ["young"]
    assert fakes.clients.documents["old"]["waitlist"] is None
    assert fakes.clients.documents["old"]["current_match_id"] == matched.match_id
    superseded = fakes.proposals.documents[empty.match_id]
    assert superseded["status"] == "superseded" and superseded["successor"] == matched.match_id


async def test_the_same_trigger_delivered_again_matches_nobody_twice() -> None:
    fakes = Fakes(top_k=1)
    await full_house(fakes)
    await put_therapist(PutTherapist("t-one", profile(capacity=3)), fakes.matching)
    changed, envelope = delivered(availability_changed("t-one"))
    handle = on_therapist_availability_changed(fakes.matching)
    await handle(changed, envelope)
    await handle(changed, envelope)
    assert [len(proposals_of(fakes, c)) for c in ("old", "young")] == [2, 2]


async def test_two_triggers_racing_on_two_replicas_make_one_proposal_per_wait() -> None:
    fakes = Fakes(top_k=1)
    await put_therapist(PutTherapist("t-one", profile(capacity=1)), fakes.matching)
    await propose_for(fakes, "holder")
    await propose_for(fakes, "old", at_minutes=1)
    other = fakes.replica("replica-2", top_k=1)
    fakes.therapists.documents["t-one"]["profile"]["capacity"] = 3  # as if put on a third replica
    for replica in (fakes.matching, other):
        await replica.directory.current()
        replica.directory.apply("therapists", fakes.therapists.documents["t-one"])
    # The second replica read the client and the order before the first wrote them.
    seen_client = copy.deepcopy(fakes.clients.documents["old"])
    seen_order = copy.deepcopy(fakes.waitlist.documents[WAITLIST_ID])
    _, envelope = delivered(availability_changed("t-one"))
    await rematch_waitlist(RematchWaitlist(("t-one",), replace(envelope, id="trigger-1")), fakes.matching)
    fakes.clients.documents["old"] = seen_client
    fakes.waitlist.documents[WAITLIST_ID] = seen_order
    await rematch_waitlist(RematchWaitlist(("t-one",), replace(envelope, id="trigger-2")), other)
    assert len(proposals_of(fakes, "old")) == 2  # the second found the first's proposal
    assert fakes.clients.documents["old"]["waitlist"] is None  # and settled it again
    assert len(fakes.therapists.documents["t-one"]["holds"]) == 2  # holder's, and old's once
    assert waiting_ids(fakes) == []


async def test_new_availability_of_a_therapist_with_room_rematches_the_waitlist() -> None:
    fakes = Fakes(top_k=1)
    await full_house(fakes)
    await put_therapist(PutTherapist("t-two", profile(accepting_new_clients=False)), fakes.matching)
    assert len(proposals_of(fakes, "old")) == 1  # closed to new clients: no trigger
    await on_therapist_availability_changed(fakes.matching)(*delivered(availability_changed("t-two")))
    assert len(proposals_of(fakes, "old")) == 1  # still closed: nobody re-matched, nothing said
    await put_therapist(PutTherapist("t-two", profile()), fakes.matching)
    assert [p.origin for p in proposals_of(fakes, "old")] == ["intake", "waitlist"]


async def test_a_place_freed_by_a_cancelled_first_session_or_a_completed_plan_rematches_the_waitlist() -> (
    None
):
    fakes = Fakes(top_k=1)
    await full_house(fakes)
    (holder,) = proposals_of(fakes, "holder")
    await on_session_booked(fakes.matching)(
        *delivered(session_booked("t-one", client_id="holder", match_id=holder.match_id))
    )
    assert len(proposals_of(fakes, "old")) == 1  # the hold became the place: still full
    await on_session_cancelled(fakes.matching)(*delivered(session_cancelled("t-one", client_id="holder")))
    (_, old_matched) = proposals_of(fakes, "old")
    await on_session_booked(fakes.matching)(
        *delivered(session_booked("t-one", client_id="old", match_id=old_matched.match_id))
    )
    plan = TreatmentPlanUpdated.model_validate(
        {
            "client_id": "old",
            "therapist_id": "t-one",
            "version": 2,
            "status": "completed",
            "approach": "cbt",
            "session_cadence": "weekly",
            "check_in_interval_days": 14,
            "updated_at": NOW,
        }
    )
    await on_treatment_plan_updated(fakes.matching)(*delivered(plan))
    assert [p.origin for p in proposals_of(fakes, "young")] == ["intake", "waitlist"]
    assert waiting_ids(fakes) == []


async def test_a_decline_ending_care_frees_the_place_for_the_waitlist() -> None:
    fakes = Fakes(top_k=1)
    await full_house(fakes)
    (holder,) = proposals_of(fakes, "holder")
    await on_session_booked(fakes.matching)(
        *delivered(session_booked("t-one", client_id="holder", match_id=holder.match_id))
    )
    await decline_match(DeclineMatch(holder.match_id), fakes.matching)
    assert [p.origin for p in proposals_of(fakes, "old")] == ["intake", "waitlist"]


async def test_a_trigger_rematches_at_most_its_bound() -> None:
    fakes = Fakes(top_k=1, waitlist_rematch_per_trigger=1)
    await full_house(fakes)
    await put_therapist(PutTherapist("t-one", profile(capacity=5)), fakes.matching)
    assert [len(proposals_of(fakes, c)) for c in ("old", "young")] == [2, 1]
    await on_therapist_availability_changed(fakes.matching)(*delivered(availability_changed("t-one")))
    assert [len(proposals_of(fakes, c)) for c in ("old", "young")] == [2, 2]


async def test_a_new_intake_or_a_decline_takes_the_client_off_the_waitlist() -> None:
    fakes = Fakes(top_k=1)
    await full_house(fakes)
    later = (NOW + timedelta(minutes=30)).isoformat()
    await propose_for(fakes, "old", at_minutes=30, intake_id="intake-old-2", submitted_at=later)
    assert waiting_ids(fakes) == ["young", "old"]  # left, and waits again from the new proposal
    (young_empty,) = proposals_of(fakes, "young")
    declined = await decline_match(DeclineMatch(young_empty.match_id), fakes.matching)
    assert declined.proposal is not None and declined.proposal["waitlisted"]
    assert waiting_ids(fakes) == ["old", "young"]
    assert fakes.clients.documents["young"]["waitlist"]["match_id"] == declined.proposal["_id"]


async def test_a_client_who_no_longer_waits_is_dropped_from_the_order_and_never_proposed_to() -> None:
    fakes = Fakes(top_k=1)
    await full_house(fakes)
    fakes.clients.documents["old"]["waitlist"] = None  # as if a crash came between the two writes
    await put_therapist(PutTherapist("t-one", profile(capacity=2)), fakes.matching)
    assert len(proposals_of(fakes, "old")) == 1
    assert [p.origin for p in proposals_of(fakes, "young")] == ["intake", "waitlist"]
    assert waiting_ids(fakes) == []


async def test_nobody_waiting_costs_a_trigger_one_read() -> None:
    fakes = Fakes()
    await put_therapist(PutTherapist("t-one", profile()), fakes.matching)
    reads: list[str] = []
    get = fakes.clients.get

    async def counting(document_id: str) -> Any:
        reads.append(document_id)
        return await get(document_id)

    fakes.clients.get = counting  # type: ignore[method-assign]
    made = await rematch_waitlist(RematchWaitlist(("t-one",), _cause()), fakes.matching)
    assert made == [] and reads == []


def _cause() -> Envelope:
    return delivered(availability_changed("t-one"))[1]
