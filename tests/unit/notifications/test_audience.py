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
    assert notices[0].critical


def test_check_in_with_reliable_deterioration_alerts_the_therapist_only() -> None:
    notices = audience.check_in_completed(samples.check_in_completed(deterioration=True, review=False))

    assert recipients_and_kinds(notices) == {("therapist-1", Audience.therapist, MessageKind.progress_alert)}
    assert notices[0].context["attention"] == "deterioration"


def test_check_in_suggesting_a_plan_review_alerts_the_therapist() -> None:
    notices = audience.check_in_completed(samples.check_in_completed(deterioration=False, review=True))

    assert notices[0].context["attention"] == "plan_review"


def test_check_in_on_track_tells_nobody() -> None:
    assert audience.check_in_completed(samples.check_in_completed(deterioration=False, review=False)) == []


def test_match_proposal_tells_the_client_how_many_and_by_when_to_choose() -> None:
    ready = audience.match_proposed(samples.match_proposed(candidates=3, origin="intake"))

    assert [(n.kind, dict(n.context)) for n in ready] == [
        (
            MessageKind.matches_ready,
            {"candidates": 3, "expires_at": "2026-03-04T09:00:00+00:00", "timezone": "America/New_York"},
        )
    ]


def test_a_proposal_after_one_lapsed_unanswered_tells_the_client_fresh_therapists_are_proposed() -> None:
    notices = audience.match_proposed(samples.match_proposed(candidates=2, origin="expired"))

    assert recipients_and_kinds(notices) == {("client-1", Audience.client, MessageKind.matches_renewed)}
    assert notices[0].context["candidates"] == 2


def test_an_empty_proposal_tells_the_client_they_are_on_the_waitlist() -> None:
    waitlisted = audience.match_proposed(samples.match_proposed(candidates=0, waitlisted=True))
    lapsed_and_waitlisted = audience.match_proposed(
        samples.match_proposed(candidates=0, waitlisted=True, origin="expired")
    )
    no_waitlist_named = audience.match_proposed(samples.match_proposed(candidates=0))

    assert [n.kind for n in waitlisted] == [MessageKind.waitlisted]
    assert [n.kind for n in lapsed_and_waitlisted] == [MessageKind.waitlisted]
    assert [n.kind for n in no_waitlist_named] == [MessageKind.matches_pending]
    assert all(n.context == {} for n in waitlisted)  # no reason code, nothing to show


def test_a_waitlisted_client_hears_when_therapists_free_up_and_nothing_while_none_does() -> None:
    matched = audience.match_proposed(samples.match_proposed(candidates=1, origin="waitlist"))
    still_nobody = audience.match_proposed(
        samples.match_proposed(candidates=0, origin="waitlist", waitlisted=True)
    )

    assert recipients_and_kinds(matched) == {("client-1", Audience.client, MessageKind.waitlist_matched)}
    assert still_nobody == []


def test_proposals_for_other_reasons_read_as_matches_ready() -> None:
    for origin in ("intake", "decline", "switch", "booking_failed", None):
        notices = audience.match_proposed(samples.match_proposed(candidates=2, origin=origin))
        assert [n.kind for n in notices] == [MessageKind.matches_ready], origin


def test_a_no_show_introduction_offers_the_client_the_next_slots_and_tells_the_therapist_nothing() -> None:
    event = samples.session_attendance_recorded(attendance="no_show")

    notices = audience.session_attendance_recorded(event, timezone="Europe/Madrid")

    assert recipients_and_kinds(notices) == {("client-1", Audience.client, MessageKind.introduction_missed)}
    assert notices[0].context == {
        "session_id": "session-1",
        "offered_slots": ["2026-03-11T15:00:00+00:00", "2026-03-12T15:00:00+00:00"],  # earliest first
        "timezone": "Europe/Madrid",
    }


def test_a_held_introduction_tells_the_client_the_plan_comes_next() -> None:
    notices = audience.session_attendance_recorded(
        samples.session_attendance_recorded(attendance="held"), timezone=None
    )

    assert recipients_and_kinds(notices) == {("client-1", Audience.client, MessageKind.introduction_held)}


def test_a_therapy_sessions_attendance_tells_nobody() -> None:
    for attendance in ("held", "no_show"):
        event = samples.session_attendance_recorded(attendance=attendance, kind="therapy")
        assert audience.session_attendance_recorded(event, timezone=None) == []


def test_two_missed_check_ins_in_a_row_prompt_the_therapist_and_one_prompts_nobody() -> None:
    once = audience.check_in_missed(samples.check_in_missed(consecutive_missed=1))
    twice = audience.check_in_missed(samples.check_in_missed(consecutive_missed=2))

    assert once == []
    assert recipients_and_kinds(twice) == {("therapist-1", Audience.therapist, MessageKind.progress_alert)}
    assert dict(twice[0].context) == {
        "check_in_id": "checkin-1",
        "client_id": "client-1",
        "attention": "missed_check_ins",
        "missed_in_a_row": 2,
    }


def test_a_check_in_reminder_reaches_the_client_only() -> None:
    notices = audience.check_in_reminder(check_in_id="checkin-1", client_id="client-1", due_at=samples.NOW)

    assert recipients_and_kinds(notices) == {("client-1", Audience.client, MessageKind.check_in_reminder)}
    assert not notices[0].critical


def crisis_lines(notices: list[audience.Notice]) -> list[str]:
    (crisis,) = [n for n in notices if n.kind is MessageKind.crisis_resources]
    return [line["contact"] for line in crisis.context["resources"]]


def test_crisis_resources_are_those_of_the_clients_country() -> None:
    us = audience.risk_flagged(samples.risk_flagged(jurisdiction="US-TX"))
    gb = audience.risk_flagged(samples.risk_flagged(jurisdiction="GB-SCT"))
    elsewhere = audience.risk_flagged(samples.risk_flagged(jurisdiction="BR-SP"))
    unknown = audience.risk_flagged(samples.risk_flagged(jurisdiction=None))

    assert crisis_lines(us) == ["988", "741741", "911"]
    assert crisis_lines(gb) == ["116 123", "111", "85258", "999 or 112"]
    assert crisis_lines(elsewhere) == crisis_lines(unknown) == ["findahelpline.com", "112"]


def test_crisis_resources_speak_the_events_language_else_the_one_the_client_chose() -> None:
    spanish = audience.risk_flagged(samples.risk_flagged(jurisdiction="MX-CMX", language="es"))
    chosen_here = audience.risk_flagged(
        samples.risk_flagged(jurisdiction="MX-CMX"), recipient_language="es-MX"
    )
    event_first = audience.risk_flagged(
        samples.risk_flagged(jurisdiction="MX-CMX", language="en"), recipient_language="es"
    )

    for notices, language in ((spanish, "es"), (chosen_here, "es"), (event_first, "en")):
        (crisis,) = notices
        assert crisis.context["language"] == language
    assert spanish[0].context["resources"][0]["how"] == "Llama al 800 911 2000 (gratis, 24/7)"


def test_the_risk_alert_names_the_clients_country_or_says_it_is_unknown() -> None:
    known = audience.risk_context(samples.risk_flagged(jurisdiction="GB-ENG"))
    unknown = audience.risk_context(samples.risk_flagged(jurisdiction=None))

    assert (known["country"], unknown["country"]) == ("GB", "unknown")
    assert audience.on_call_page("oncall-1", known, "risk:e-1").context["country"] == "GB"


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
