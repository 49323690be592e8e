"""Who hears about which event, with which kind of message."""

from __future__ import annotations

from services.notifications.domain import audience
from services.notifications.domain.messages import Audience, MessageKind
from tests.unit.notifications import samples


def recipients_and_kinds(notices: list[audience.Notice]) -> set[tuple[str, Audience, MessageKind]]:
    return {(n.recipient_id, n.audience, n.kind) for n in notices}


def test_session_booked_tells_client_and_therapist_with_the_join_link() -> None:
    notices = audience.session_booked(samples.session_booked())

    assert recipients_and_kinds(notices) == {
        ("client-1", Audience.client, MessageKind.session_booked),
        ("therapist-1", Audience.therapist, MessageKind.session_booked),
    }
    assert all(n.context["join_url"] == samples.JOIN_URL for n in notices)
    assert all(n.context["session_kind"] == "introduction" for n in notices)
    assert not any(n.critical for n in notices)


def test_a_later_session_of_the_series_is_a_therapy_session() -> None:
    notices = audience.session_booked(samples.session_booked(kind=None, sequence=3))

    assert {n.context["session_kind"] for n in notices} == {"therapy"}


def test_risk_flag_sends_the_client_crisis_resources_and_alerts_a_treating_therapist_critically() -> None:
    notices = audience.risk_flagged(samples.risk_flagged(therapist_id="therapist-9"))

    assert recipients_and_kinds(notices) == {
        ("client-1", Audience.client, MessageKind.crisis_resources),
        ("therapist-9", Audience.clinician, MessageKind.risk_alert),
    }
    assert all(n.critical for n in notices)


def test_risk_flag_without_a_therapist_reaches_the_client_only_before_on_call_paging() -> None:
    notices = audience.risk_flagged(samples.risk_flagged())

    assert recipients_and_kinds(notices) == {("client-1", Audience.client, MessageKind.crisis_resources)}


def test_check_in_with_reliable_deterioration_alerts_the_therapist_only() -> None:
    notices = audience.check_in_completed(samples.check_in_completed(deterioration=True, review=False))

    assert recipients_and_kinds(notices) == {("therapist-1", Audience.therapist, MessageKind.progress_alert)}
    assert notices[0].context["attention"] == "deterioration"


def test_check_in_suggesting_a_plan_review_alerts_the_therapist() -> None:
    notices = audience.check_in_completed(samples.check_in_completed(deterioration=False, review=True))

    assert notices[0].context["attention"] == "plan_review"


def test_check_in_on_track_tells_nobody() -> None:
    assert audience.check_in_completed(samples.check_in_completed(deterioration=False, review=False)) == []


def test_match_proposal_tells_the_client_how_many_or_that_the_search_goes_on() -> None:
    ready = audience.match_proposed(samples.match_proposed(candidates=3))
    empty = audience.match_proposed(samples.match_proposed(candidates=0))

    assert [(n.kind, dict(n.context)) for n in ready] == [(MessageKind.matches_ready, {"candidates": 3})]
    assert [n.kind for n in empty] == [MessageKind.matches_pending]


def test_client_only_events_reach_the_client_only() -> None:
    cases = {
        MessageKind.intake_received: audience.intake_completed(samples.intake_completed()),
        MessageKind.match_confirmed: audience.match_accepted(samples.match_accepted()),
        MessageKind.match_declined: audience.match_declined(samples.match_declined()),
        MessageKind.booking_delayed: audience.booking_failed(samples.booking_failed()),
        MessageKind.check_in_due: audience.check_in_due(samples.check_in_due()),
        MessageKind.plan_updated: audience.treatment_plan_updated(samples.treatment_plan_updated()),
    }
    for kind, notices in cases.items():
        assert recipients_and_kinds(notices) == {("client-1", Audience.client, kind)}


def test_reminders_expire_when_their_session_starts() -> None:
    notices = audience.session_reminder(
        session_id="s-1",
        client_id="client-1",
        therapist_id="therapist-1",
        starts_at=samples.STARTS,
        ends_at=None,
        session_format="video",
        kind="therapy",
        join_url=None,
        sequence=2,
        timezone="UTC",
        lead="1h",
    )

    assert {n.recipient_id for n in notices} == {"client-1", "therapist-1"}
    assert all(n.expires_at == samples.STARTS for n in notices)
