"""Care follows consent (`domain/consent.py`): whom a client may book, what an ending cancels,
what a former therapist keeps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.scheduling.domain.cancellation import SessionStatus
from services.scheduling.domain.care import Care, Session
from services.scheduling.domain.consent import booking_consent, follow_consent, shown_to_therapist
from shared.care.relationship import CareState
from shared.events.common import Candidate
from shared.events.models import MatchAccepted, MatchDeclined, MatchProposed
from tests.unit.scheduling.support import introduction_at

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def proposal(match_id: str, *therapists: str, at: datetime = T0) -> MatchProposed:
    return MatchProposed(
        match_id=match_id,
        client_id="c-1",
        intake_id="i-1",
        candidates=[Candidate(therapist_id=t, rank=n, score=0.5) for n, t in enumerate(therapists, 1)],
        expires_at=at + timedelta(days=2),
    )


def session(therapist_id: str, starts_at: datetime, session_id: str = "s-1") -> Session:
    return introduction_at(starts_at, therapist_id=therapist_id, session_id=session_id)


def folded(care: Care, *events: tuple[object, datetime]) -> Care:
    for event, at in events:
        care, _ = follow_consent(care, event, at, at)  # type: ignore[arg-type]
    return care


def test_a_client_may_book_a_proposed_therapist_until_the_proposal_expires() -> None:
    care = folded(Care("c-1"), (proposal("m-1", "a"), T0))

    assert booking_consent(care, "a", T0 + timedelta(hours=1)).given
    assert booking_consent(care, "a", T0 + timedelta(hours=1)).match_id == "m-1"
    assert booking_consent(care, "a", T0 + timedelta(days=2)).refusal == "proposal_expired"
    assert booking_consent(care, "stranger", T0).refusal == "never_proposed"


def test_a_therapist_withdrawn_or_ended_may_not_be_booked() -> None:
    accepted = MatchAccepted(match_id="m-1", client_id="c-1", therapist_id="b", accepted_at=T0)
    care = folded(Care("c-1"), (proposal("m-1", "a", "b"), T0), (accepted, T0 + timedelta(minutes=5)))

    assert booking_consent(care, "a", T0 + timedelta(minutes=6)).refusal == "proposal_withdrawn"
    assert booking_consent(care, "b", T0 + timedelta(minutes=6)).state is CareState.chosen

    declined = MatchDeclined(match_id="m-1", client_id="c-1", therapist_id="b", declined_at=T0)
    care = folded(care, (declined, T0 + timedelta(minutes=10)))
    assert booking_consent(care, "b", T0 + timedelta(minutes=11)).refusal == "care_ended"


def test_an_ending_cancels_the_therapists_upcoming_sessions_but_a_newer_proposal_alone_does_not() -> None:
    ahead = session("a", T0 + timedelta(days=3))
    care = folded(Care("c-1"), (proposal("m-1", "a"), T0)).with_sessions(ahead)

    superseded, cancelled = follow_consent(care, proposal("m-2", "b"), T0 + timedelta(hours=1), T0)
    assert cancelled == [] and superseded.upcoming(T0) == [ahead]

    declined = MatchDeclined(match_id="m-1", client_id="c-1", therapist_id="a", declined_at=T0)
    ended, cancelled = follow_consent(care, declined, T0 + timedelta(hours=1), T0)
    assert [s.session_id for s in cancelled] == ["s-1"] and ended.upcoming(T0) == []
    assert cancelled[0].status is SessionStatus.cancelled and cancelled[0].cancel_reason == "match_declined"


def test_a_former_therapist_keeps_only_the_sessions_that_started_before_the_end() -> None:
    accepted = MatchAccepted(match_id="m-1", client_id="c-1", therapist_id="a", accepted_at=T0)
    before = session("a", T0 + timedelta(hours=2), "s-before")
    after = session("a", T0 + timedelta(days=5), "s-after")
    care = folded(Care("c-1"), (proposal("m-1", "a"), T0), (accepted, T0)).with_sessions(before, after)
    end = T0 + timedelta(days=1)
    declined = MatchDeclined(match_id="m-1", client_id="c-1", therapist_id="a", declined_at=end)

    care, cancelled = follow_consent(care, declined, end, end)

    assert [s.session_id for s in cancelled] == ["s-after"]
    assert shown_to_therapist(care, care.session("s-before"))  # type: ignore[arg-type]
    assert not shown_to_therapist(care, care.session("s-after"))  # type: ignore[arg-type]
    assert shown_to_therapist(care, replace(session("z", end), therapist_id="z")), "no relationship: shown"
