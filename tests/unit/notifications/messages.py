"""Every notice the audience rules make from the sample events, for rendering tests."""

from __future__ import annotations

from services.notifications.domain import audience
from services.notifications.domain.audience import Notice
from shared.events.common import PlanStatus
from tests.unit.notifications import samples


def every_notice() -> list[Notice]:
    """At least one notice of every (kind, audience) with a template, from events full of clinical values."""
    risk = samples.risk_flagged(therapist_id="therapist-1")
    return [
        *audience.intake_completed(samples.intake_completed()),
        *audience.match_proposed(samples.match_proposed(candidates=2)),
        *audience.match_proposed(samples.match_proposed(candidates=1)),
        *audience.match_proposed(samples.match_proposed(candidates=0)),
        *audience.match_proposed(samples.match_proposed(candidates=0, waitlisted=True)),
        *(
            notice
            for origin in ("expired", "waitlist")
            for candidates in (1, 3)
            for notice in audience.match_proposed(
                samples.match_proposed(candidates=candidates, origin=origin)
            )
        ),
        *audience.match_accepted(samples.match_accepted()),
        *audience.match_declined(samples.match_declined()),
        *audience.booking_failed(samples.booking_failed()),
        *audience.session_booked(samples.session_booked()),
        *audience.session_rescheduled(
            samples.session_rescheduled(), join_url=samples.JOIN_URL, kind="therapy", calendar_sequence=1
        ),
        *audience.session_cancelled(
            samples.session_cancelled(),
            ends_at=None,
            format_="in_person",
            kind="introduction",
            timezone="America/New_York",
            calendar_sequence=2,
        ),
        *(
            notice
            for lead in ("24h", "1h")
            for notice in audience.session_reminder(
                session_id="session-1",
                client_id="client-1",
                therapist_id="therapist-1",
                starts_at=samples.STARTS,
                ends_at=None,
                session_format="phone",
                kind="therapy",
                join_url=samples.JOIN_URL,
                sequence=2,
                timezone="America/New_York",
                lead=lead,
            )
        ),
        *audience.session_attendance_recorded(samples.session_attendance_recorded(), timezone="UTC"),
        *audience.session_attendance_recorded(
            samples.session_attendance_recorded(offered_slots=()), timezone=None
        ),
        *audience.session_attendance_recorded(
            samples.session_attendance_recorded(attendance="held"), timezone=None
        ),
        *audience.check_in_due(samples.check_in_due()),
        *audience.check_in_reminder(check_in_id="checkin-1", client_id="client-1", due_at=samples.NOW),
        *(
            notice
            for status in PlanStatus
            for version in (1, 4)
            for notice in audience.treatment_plan_updated(
                samples.treatment_plan_updated(status=status, version=version)
            )
        ),
        *audience.check_in_completed(samples.check_in_completed(deterioration=True)),
        *audience.check_in_completed(samples.check_in_completed(deterioration=False, review=True)),
        *audience.check_in_missed(samples.check_in_missed(consecutive_missed=3)),
        *audience.risk_flagged(risk),
        *(
            notice
            for jurisdiction, language in (("GB-ENG", None), ("MX-CMX", "es"), ("BR-SP", "es"), (None, None))
            for notice in audience.risk_flagged(
                samples.risk_flagged(therapist_id="therapist-1", jurisdiction=jurisdiction, language=language)
            )
        ),
        audience.on_call_page("oncall-1", audience.risk_context(risk), "risk:e-1"),
    ]
