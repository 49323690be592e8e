"""Care follows consent: what the client's choices let scheduling book, and what ends when they change.

The care relationship of the client with each therapist (DESIGN §2,
`shared/care/relationship.py`) is kept in the care record and decides three things here:

- booking (`booking_consent`): a client books only with a therapist proposed to them (a
  candidate of a proposal that has not expired) or one they chose or are in care with;
  anything else is refused with its reason, and only an admin may book anyway, naming why;
- following (`follow_consent`): an event that moves the relationships is folded into the
  record, and when it ends the client's care with a therapist (another therapist chosen, a
  decline, the plan completed) their upcoming sessions are cancelled on the system's behalf
  and the series and check-ins with them stop. A newer proposal alone undoes no booking;
- showing (`shown_to_therapist`): a former therapist's own calendar keeps only their
  sessions with the client that started before the end, never the ones the end cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from pydantic import BaseModel

from services.scheduling.domain.care import Care, SeriesStatus, Session
from services.scheduling.domain.rhythm import series_idle, stopped_check_ins
from shared.care.relationship import CareState

NOT_PROPOSED = "therapist_not_proposed"
"""The problem code of a booking outside the client's consent."""

REFUSALS = {
    "never_proposed": "the therapist was never proposed to this client",
    "proposal_expired": "the proposal that named this therapist has expired",
    "proposal_withdrawn": "the therapist is no longer proposed to this client (a newer proposal, "
    "a decline, or another therapist chosen)",
    "care_ended": "the client's care with this therapist has ended",
}

ACTIVE = (CareState.chosen, CareState.in_care)
_OVER = (CareState.ended, CareState.withdrawn)

# Why a session is cancelled when the relationship it belonged to ends (the relationship's
# reason on the left); a decline's reason is its own code, so anything else is a decline.
_CANCEL_REASONS = {"another_therapist_chosen": "therapist_switched", "plan_completed": "plan_completed"}
_DECLINED = "match_declined"
_SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class BookingConsent:
    """What the client's relationship with a therapist lets them book, now."""

    state: CareState | None
    match_id: str | None = None
    """The proposal that named the therapist (or the acceptance that chose them)."""
    refusal: str | None = None
    """Why not: `never_proposed`, `proposal_expired`, `proposal_withdrawn`, `care_ended`."""

    @property
    def given(self) -> bool:
        return self.refusal is None

    @property
    def chosen(self) -> bool:
        return self.state in ACTIVE


def booking_consent(care: Care, therapist_id: str, now: datetime) -> BookingConsent:
    found = care.relationships.of(therapist_id)
    if found is None:
        return BookingConsent(None, refusal="never_proposed")
    state = found.state_at(now)
    if state in (*ACTIVE, CareState.proposed):
        return BookingConsent(state, found.match_id)
    if state is CareState.ended:
        return BookingConsent(state, found.match_id, "care_ended")
    lapsed = found.state is CareState.proposed  # withdrawn by its expiry alone
    return BookingConsent(state, found.match_id, "proposal_expired" if lapsed else "proposal_withdrawn")


def follow_consent(care: Care, event: BaseModel, at: datetime, now: datetime) -> tuple[Care, list[Session]]:
    """`event` (which happened at `at`) folded into the relationships; care it ended, ended.

    Returns the record and the sessions cancelled because care with their therapist ended.
    """
    before = care.relationships
    after = before.apply(event, at)
    if after == before:
        return care, []
    care = replace(care, relationships=after)
    cancelled: list[Session] = []
    for relationship in after.relationships:
        if (
            relationship.state not in _OVER
            or before.of(relationship.therapist_id) == relationship
            or relationship.reason == _SUPERSEDED
        ):
            continue
        reason = _CANCEL_REASONS.get(relationship.reason or "", _DECLINED)
        care, done = ending(care, relationship.therapist_id, reason=reason, now=now)
        cancelled.extend(done)
    return care, cancelled


def ending(care: Care, therapist_id: str, *, reason: str, now: datetime) -> tuple[Care, list[Session]]:
    """Care with `therapist_id` ends: their upcoming sessions cancelled, series and check-ins stopped."""
    care, done = care.cancelled_by_system(care.upcoming(now, therapist_id), reason=reason, now=now)
    series = care.series
    if series is not None and series.therapist_id == therapist_id and series.in_care:
        check_ins = stopped_check_ins(care.check_ins) if care.check_ins else None
        care = replace(care, series=series_idle(series, SeriesStatus.stopped), check_ins=check_ins)
    return care, done


def shown_to_therapist(care: Care, session: Session) -> bool:
    """Whether the session is in its therapist's own listing and calendar.

    Once the relationship is over, the therapist keeps the sessions that started before it
    ended (and any that still hold their time); the ones its end cancelled are gone.
    """
    found = care.relationships.of(session.therapist_id)
    if found is None or found.state not in _OVER:
        return True
    return session.holds_time or session.starts_at < found.changed_at
