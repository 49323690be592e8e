"""What each kind of message says, as the few values its templates may show.

A message body carries only what its recipient needs to act: when and how to join a
session, that something is waiting in the app, where to get help now. Never a score, a
severity band, a concern, a reason code or any free text: the context of a message is
built here from an allowlist of fields, so a template cannot show what it was never given
(`tests/unit/notifications/test_no_clinical_content.py` renders every template to prove it).
The crisis lines of a crisis message are public text from `shared.care` (name, how,
contact of each line), never anything of the client.

Context values are plain JSON values (ISO 8601 strings for instants) because a delivery
stores its context until it is sent, possibly after quiet hours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.care.crisis_resources import CrisisResource, crisis_resources
from shared.events.common import SessionFormat

MessageContext = Mapping[str, Any]


class MessageKind(StrEnum):
    """The kinds of message a recipient can hear; preferences opt out per kind and channel."""

    intake_received = "intake_received"
    matches_ready = "matches_ready"
    matches_renewed = "matches_renewed"  # the proposal before lapsed unanswered: fresh therapists
    waitlist_matched = "waitlist_matched"  # a therapist freed up for a client on the waitlist
    matches_pending = "matches_pending"  # no candidates (a producer that names no waitlist)
    waitlisted = "waitlisted"  # no candidates: the client is on the waitlist and will be told
    match_confirmed = "match_confirmed"
    match_declined = "match_declined"
    booking_delayed = "booking_delayed"
    session_booked = "session_booked"
    session_rescheduled = "session_rescheduled"
    session_cancelled = "session_cancelled"
    session_reminder = "session_reminder"
    introduction_held = "introduction_held"  # care started: the plan is written next, together
    introduction_missed = "introduction_missed"  # a no-show: care has not started; next slots
    check_in_due = "check_in_due"
    check_in_reminder = "check_in_reminder"  # once, when a check-in is still unanswered
    plan_updated = "plan_updated"
    progress_alert = "progress_alert"
    risk_alert = "risk_alert"
    crisis_resources = "crisis_resources"


class Audience(StrEnum):
    """Whom a message addresses, which decides its wording (one template each)."""

    client = "client"
    therapist = "therapist"
    clinician = "clinician"  # the on-call clinical rota (and a treating therapist, for risk)


CRITICAL_KINDS: frozenset[MessageKind] = frozenset({MessageKind.risk_alert, MessageKind.crisis_resources})
"""Bypass opt-outs, quiet hours and delays (DOMAIN.md, notification conventions)."""

TEMPLATES: frozenset[tuple[MessageKind, Audience]] = frozenset(
    {
        (MessageKind.intake_received, Audience.client),
        (MessageKind.matches_ready, Audience.client),
        (MessageKind.matches_renewed, Audience.client),
        (MessageKind.waitlist_matched, Audience.client),
        (MessageKind.matches_pending, Audience.client),
        (MessageKind.waitlisted, Audience.client),
        (MessageKind.match_confirmed, Audience.client),
        (MessageKind.match_declined, Audience.client),
        (MessageKind.booking_delayed, Audience.client),
        (MessageKind.session_booked, Audience.client),
        (MessageKind.session_booked, Audience.therapist),
        (MessageKind.session_rescheduled, Audience.client),
        (MessageKind.session_rescheduled, Audience.therapist),
        (MessageKind.session_cancelled, Audience.client),
        (MessageKind.session_cancelled, Audience.therapist),
        (MessageKind.session_reminder, Audience.client),
        (MessageKind.session_reminder, Audience.therapist),
        (MessageKind.introduction_held, Audience.client),
        (MessageKind.introduction_missed, Audience.client),
        (MessageKind.check_in_due, Audience.client),
        (MessageKind.check_in_reminder, Audience.client),
        (MessageKind.plan_updated, Audience.client),
        (MessageKind.progress_alert, Audience.therapist),
        (MessageKind.risk_alert, Audience.clinician),
        (MessageKind.crisis_resources, Audience.client),
    }
)
"""Every (kind, audience) with a template in each locale."""

CALENDAR_KINDS: frozenset[MessageKind] = frozenset(
    {MessageKind.session_booked, MessageKind.session_rescheduled, MessageKind.session_cancelled}
)
"""Kinds whose e-mail carries the session as an iCalendar attachment."""


def instant(moment: datetime) -> str:
    """An instant as stored in a context: ISO 8601 in UTC."""
    return moment.isoformat()


def session_kind(kind: str | None, sequence: int) -> str:
    """`introduction` or `therapy`: the event says so, else the first session introduces."""
    if kind in ("introduction", "therapy"):
        return kind
    return "introduction" if sequence == 1 else "therapy"


def session_context(
    *,
    session_id: str,
    client_id: str,
    starts_at: datetime,
    ends_at: datetime | None,
    session_format: str,
    kind: str,
    join_url: str | None,
    sequence: int,
    timezone: str | None,
) -> dict[str, Any]:
    """What a session message may say: when, how long, how to join, and the client's id.

    Only a video session has a link to join by: every session carries a video room
    (`session-booked` v1 requires `join_url`), but a phone, chat or in-person session is
    not attended through it, so its messages and their .ics show none.
    """
    minutes = int((ends_at - starts_at).total_seconds() // 60) if ends_at is not None else None
    return {
        "session_id": session_id,
        "client_id": client_id,
        "starts_at": instant(starts_at),
        "ends_at": instant(ends_at) if ends_at is not None else None,
        "minutes": minutes,
        "format": session_format,
        "session_kind": kind,
        "join_url": join_url if session_format == SessionFormat.video else None,
        "sequence": sequence,
        "timezone": timezone,  # shown in the recipient's own zone; this one if they gave none
    }


CRISIS_RESOURCE_FIELDS = ("name", "how", "contact")
"""What a crisis message may show of each line: public text from `shared.care`, nothing of the client."""


def crisis_context(resources: Sequence[CrisisResource], language: str) -> dict[str, Any]:
    """The crisis lines and emergency number to list, and the language they are written in.

    The message is rendered in that language too, so its words and its lines agree.
    """
    return {
        "resources": [{name: getattr(line, name) for name in CRISIS_RESOURCE_FIELDS} for line in resources],
        "language": language,
    }


def stored_context(kind: MessageKind, context: MessageContext) -> MessageContext:
    """A stored context completed with what an older version of this service did not store.

    A delivery (or an on-call alert) claimed before an upgrade may be attempted after it: a
    crisis message claimed without its lines lists the international fallback (never no
    line at all), a risk alert without the client's country says `unknown`.
    """
    if kind is MessageKind.crisis_resources and "resources" not in context:
        return {**context, "resources": crisis_context(crisis_resources(None), "en")["resources"]}
    if kind is MessageKind.risk_alert and "country" not in context:
        return {**context, "country": "unknown"}
    return context
