"""Who hears about which event, and what kind of message each of them gets.

One function per consumed event returns its notices: one per recipient, with the kind of
message, the audience the wording addresses, and the context the templates may show (see
`messages.py`). Paging the on-call rota for a risk flag is `on_call_page`; whom to page
first and whom next is decided with the recipients' channels (`commands/page_on_call.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.notifications.domain.messages import (
    CRITICAL_KINDS,
    Audience,
    MessageContext,
    MessageKind,
    crisis_context,
    instant,
    session_context,
    session_kind,
)
from shared.care.crisis_resources import country_of, crisis_resources, language_for
from shared.events.models import (
    BookingFailed,
    CheckInCompleted,
    CheckInDue,
    CheckInMissed,
    IntakeCompleted,
    MatchAccepted,
    MatchDeclined,
    MatchProposed,
    RiskFlagged,
    SessionAttendanceRecorded,
    SessionBooked,
    SessionCancelled,
    SessionRescheduled,
    TreatmentPlanUpdated,
)

PROMPT_AFTER_MISSED = 2
"""Check-ins missed in a row before the therapist is prompted: one miss can be chance."""


@dataclass(frozen=True, slots=True)
class Notice:
    """One message to one recipient, before channels, preferences and quiet hours apply."""

    recipient_id: str
    audience: Audience
    kind: MessageKind
    context: MessageContext = field(default_factory=dict)
    expires_at: datetime | None = None  # a reminder is pointless once its session started
    page: str | None = None  # the risk alert this notice pages the on-call rota for

    @property
    def critical(self) -> bool:
        return self.kind in CRITICAL_KINDS


def _to_client_and_therapist(
    kind: MessageKind, client_id: str, therapist_id: str, context: MessageContext, **extra: Any
) -> list[Notice]:
    return [
        Notice(client_id, Audience.client, kind, context, **extra),
        Notice(therapist_id, Audience.therapist, kind, context, **extra),
    ]


def intake_completed(event: IntakeCompleted) -> list[Notice]:
    """The client hears their intake arrived; nothing of its content or scores."""
    return [Notice(event.client_id, Audience.client, MessageKind.intake_received)]


def match_proposed(event: MatchProposed) -> list[Notice]:
    """The client hears what the proposal means for them, by why it was made.

    With candidates: fresh therapists after an unanswered proposal lapsed (`expired`),
    therapists free now for a client on the waitlist (`waitlist`), else matches ready; each
    says how many and by when to choose. Without: the client is on the waitlist and will be
    told as soon as a therapist is free. A waitlist re-match that still found nobody tells
    nobody: the client heard they wait, and is not re-told on every attempt.
    """
    if not event.candidates:
        if event.origin == "waitlist":
            return []
        kind = MessageKind.waitlisted if event.waitlisted else MessageKind.matches_pending
        return [Notice(event.client_id, Audience.client, kind)]
    kinds = {"expired": MessageKind.matches_renewed, "waitlist": MessageKind.waitlist_matched}
    context = {
        "candidates": len(event.candidates),
        "expires_at": instant(event.expires_at),
        "timezone": event.timezone,
    }
    kind = kinds.get(event.origin or "", MessageKind.matches_ready)
    return [Notice(event.client_id, Audience.client, kind, context)]


def match_accepted(event: MatchAccepted) -> list[Notice]:
    """The client's choice is confirmed; the therapist hears once a session is booked."""
    return [Notice(event.client_id, Audience.client, MessageKind.match_confirmed)]


def match_declined(event: MatchDeclined) -> list[Notice]:
    """The client hears that other therapists will be proposed (the reason code stays out)."""
    return [Notice(event.client_id, Audience.client, MessageKind.match_declined)]


def booking_failed(event: BookingFailed) -> list[Notice]:
    """The client hears the first session is not booked yet and that new proposals follow."""
    return [Notice(event.client_id, Audience.client, MessageKind.booking_delayed)]


def session_booked(event: SessionBooked) -> list[Notice]:
    """Client and therapist: when, how long, how to join (the e-mail adds an .ics)."""
    context = session_context(
        session_id=event.session_id,
        client_id=event.client_id,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        session_format=event.format.value,
        kind=session_kind(event.kind, event.sequence),
        join_url=event.join_url,
        sequence=event.sequence,
        timezone=event.timezone,
    )
    return _to_client_and_therapist(MessageKind.session_booked, event.client_id, event.therapist_id, context)


def session_rescheduled(
    event: SessionRescheduled, *, join_url: str | None, kind: str | None, calendar_sequence: int
) -> list[Notice]:
    """Client and therapist: the new time (and the old one), with an updated .ics."""
    context = {
        **session_context(
            session_id=event.session_id,
            client_id=event.client_id,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            session_format=event.format.value,
            kind=session_kind(kind, event.sequence),
            join_url=join_url,
            sequence=event.sequence,
            timezone=event.timezone,
        ),
        "previous_starts_at": instant(event.previous_starts_at),
        "calendar_sequence": calendar_sequence,
    }
    return _to_client_and_therapist(
        MessageKind.session_rescheduled, event.client_id, event.therapist_id, context
    )


def session_cancelled(
    event: SessionCancelled,
    *,
    ends_at: datetime | None,
    format_: str | None,
    kind: str | None,
    timezone: str | None,
    calendar_sequence: int,
) -> list[Notice]:
    """Client and therapist: which session is cancelled and by whom (a cancelling .ics)."""
    context = {
        **session_context(
            session_id=event.session_id,
            client_id=event.client_id,
            starts_at=event.starts_at,
            ends_at=ends_at,
            session_format=format_ or "video",
            kind=session_kind(kind, event.sequence),
            join_url=None,
            sequence=event.sequence,
            timezone=timezone,
        ),
        "cancelled_by": event.cancelled_by,
        "calendar_sequence": calendar_sequence,
    }
    return _to_client_and_therapist(
        MessageKind.session_cancelled, event.client_id, event.therapist_id, context
    )


def session_reminder(
    *,
    session_id: str,
    client_id: str,
    therapist_id: str,
    starts_at: datetime,
    ends_at: datetime | None,
    session_format: str,
    kind: str,
    join_url: str | None,
    sequence: int,
    timezone: str | None,
    lead: str,
) -> list[Notice]:
    """Client and therapist, 24 h and 1 h before: useless once the session started."""
    context = {
        **session_context(
            session_id=session_id,
            client_id=client_id,
            starts_at=starts_at,
            ends_at=ends_at,
            session_format=session_format,
            kind=kind,
            join_url=join_url,
            sequence=sequence,
            timezone=timezone,
        ),
        "lead": lead,
    }
    return _to_client_and_therapist(
        MessageKind.session_reminder, client_id, therapist_id, context, expires_at=starts_at
    )


def session_attendance_recorded(event: SessionAttendanceRecorded, *, timezone: str | None) -> list[Notice]:
    """The client hears what an introduction's attendance means; a therapy session's tells nobody.

    Held: care has started and the therapist will write the treatment plan with them. No-show:
    care has not started, and the therapist's next free starts are offered (shown in the
    client's zone; `timezone` is the session's, for a client who gave none) with how to book
    one. The therapist recorded it, so they hear nothing new.
    """
    if event.kind != "introduction":
        return []
    if event.attendance == "held":
        return [Notice(event.client_id, Audience.client, MessageKind.introduction_held)]
    context = {
        "session_id": event.session_id,
        "offered_slots": [instant(slot) for slot in sorted(event.offered_slots)],
        "timezone": timezone,
    }
    return [Notice(event.client_id, Audience.client, MessageKind.introduction_missed, context)]


def check_in_due(event: CheckInDue) -> list[Notice]:
    """The client is asked to check in by a date; the instruments are not named."""
    context = {"check_in_id": event.check_in_id, "due_at": instant(event.due_at)}
    return [Notice(event.client_id, Audience.client, MessageKind.check_in_due, context)]


def check_in_reminder(*, check_in_id: str, client_id: str, due_at: datetime) -> list[Notice]:
    """The client is reminded, once, of a check-in still unanswered."""
    context = {"check_in_id": check_in_id, "due_at": instant(due_at)}
    return [Notice(client_id, Audience.client, MessageKind.check_in_reminder, context)]


def check_in_missed(event: CheckInMissed) -> list[Notice]:
    """The therapist is prompted when the client missed `PROMPT_AFTER_MISSED` check-ins in a row.

    A single miss prompts nobody. The prompt says how many in a row, never anything answered.
    """
    if event.consecutive_missed < PROMPT_AFTER_MISSED:
        return []
    context = {
        "check_in_id": event.check_in_id,
        "client_id": event.client_id,
        "attention": "missed_check_ins",
        "missed_in_a_row": event.consecutive_missed,
    }
    return [Notice(event.therapist_id, Audience.therapist, MessageKind.progress_alert, context)]


def treatment_plan_updated(event: TreatmentPlanUpdated) -> list[Notice]:
    """The client hears a plan version is ready to read and acknowledge, or that care pauses or ends."""
    context = {"version": event.version, "status": event.status.value}
    return [Notice(event.client_id, Audience.client, MessageKind.plan_updated, context)]


def check_in_completed(event: CheckInCompleted) -> list[Notice]:
    """The therapist is alerted on reliable deterioration or a suggested plan review.

    The message says which of the two, never the scores, deltas or reason codes: the
    therapist reads those in the record, where the read is audited.
    """
    if event.change.reliable_deterioration:
        attention = "deterioration"
    elif event.plan_review_suggested:
        attention = "plan_review"
    else:
        return []
    context = {"check_in_id": event.check_in_id, "client_id": event.client_id, "attention": attention}
    return [Notice(event.therapist_id, Audience.therapist, MessageKind.progress_alert, context)]


def risk_flagged(event: RiskFlagged, *, recipient_language: str | None = None) -> list[Notice]:
    """The client gets crisis resources at once; a treating therapist is alerted too.

    The resources are those of the client's country (`event.jurisdiction`; the
    international fallback when unknown), in the event's language, else the one the client
    chose here (`recipient_language`). The on-call rota is paged separately
    (`on_call_page`), with escalation.
    """
    language = event.language or recipient_language
    languages = [language] if language else []
    context = crisis_context(crisis_resources(event.jurisdiction, languages), language_for(languages))
    notices = [Notice(event.client_id, Audience.client, MessageKind.crisis_resources, context)]
    if event.therapist_id:
        notices.append(
            Notice(event.therapist_id, Audience.clinician, MessageKind.risk_alert, risk_context(event))
        )
    return notices


def risk_context(event: RiskFlagged) -> dict[str, Any]:
    """Which client's record to open, where they live, and whether the intake or a check-in flagged it.

    The country (ISO code, or `unknown`) tells the clinician which emergency services apply.
    """
    return {
        "client_id": event.client_id,
        "source": "check_in" if event.check_in_id else "intake",
        "country": country_of(event.jurisdiction) or "unknown",
    }


def on_call_page(recipient_id: str, context: MessageContext, alert_id: str) -> Notice:
    """A page of one on-call clinician for a risk alert; escalates when undeliverable."""
    return Notice(recipient_id, Audience.clinician, MessageKind.risk_alert, context, page=alert_id)
