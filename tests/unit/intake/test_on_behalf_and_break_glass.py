"""Who enters a client's answers, and when the on-call clinician may break the glass (pure rules)."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.intake.domain.break_glass import BreakGlassRequest, Refusal, grant, refusal
from services.intake.domain.client_record import BreakGlassGrant, ClientRecord
from services.intake.domain.on_behalf import EntryVerdict, OnBehalfOf, entry_verdict
from shared.events.common import RiskLevel
from shared.http.auth import Role

NOW = datetime(2025, 3, 3, 12, tzinfo=UTC)
WINDOW = timedelta(hours=72)
BY_PHONE = OnBehalfOf(reason="client has no internet this week", method="phone")


@pytest.mark.parametrize(
    ("role", "on_behalf", "verdict"),
    [
        (Role.client, None, EntryVerdict.own),
        (Role.admin, None, EntryVerdict.own),
        (Role.service, None, EntryVerdict.own),
        (Role.clinician, None, EntryVerdict.needs_on_behalf),
        (Role.clinician, BY_PHONE, EntryVerdict.on_behalf),
        (Role.client, BY_PHONE, EntryVerdict.not_a_clinician),
        (Role.admin, BY_PHONE, EntryVerdict.not_a_clinician),
    ],
)
def test_a_clinician_enters_answers_only_as_an_explicit_on_behalf_entry(
    role: Role, on_behalf: OnBehalfOf | None, verdict: EntryVerdict
) -> None:
    assert entry_verdict(role, on_behalf) is verdict


@pytest.mark.parametrize(
    "given",
    [
        {"reason": "ok", "method": "phone"},
        {"reason": "x" * 501, "method": "phone"},
        {"reason": "on the phone", "method": "email"},
        {"method": "paper"},
        {"reason": "on the phone", "method": "phone", "extra": 1},
    ],
)
def test_an_on_behalf_entry_needs_a_reason_of_3_to_500_characters_and_a_known_method(
    given: dict[str, object],
) -> None:
    with pytest.raises(ValidationError):
        OnBehalfOf.model_validate(given)


def test_a_break_glass_request_needs_a_reason() -> None:
    with pytest.raises(ValidationError):
        BreakGlassRequest.model_validate({})
    assert BreakGlassRequest(reason="paged, no answer").reason_code == "risk_alert_page"


FLAGGED_YESTERDAY = [(RiskLevel.high, NOW - timedelta(days=1))]


@pytest.mark.parametrize(
    ("therapist_id", "rota", "flagged", "why"),
    [
        ("t-on-call", {"t-on-call"}, FLAGGED_YESTERDAY, None),
        ("t-on-call", {"t-on-call"}, [(RiskLevel.moderate, NOW - timedelta(hours=71))], None),
        ("t-other", {"t-on-call"}, FLAGGED_YESTERDAY, Refusal.not_on_call),
        ("t-on-call", set(), FLAGGED_YESTERDAY, Refusal.not_on_call),  # production default: nobody
        ("t-on-call", {"t-on-call"}, [], Refusal.no_recent_risk_flag),
        (
            "t-on-call",
            {"t-on-call"},
            [(RiskLevel.high, NOW - timedelta(days=4))],
            Refusal.no_recent_risk_flag,
        ),
        ("t-on-call", {"t-on-call"}, [(RiskLevel.low, NOW)], Refusal.no_recent_risk_flag),
    ],
)
def test_only_the_on_call_clinician_breaks_the_glass_and_only_after_a_recent_risk_flag(
    therapist_id: str, rota: set[str], flagged: list[tuple[RiskLevel, datetime]], why: Refusal | None
) -> None:
    assert refusal(therapist_id, rota=rota, flagged=flagged, now=NOW, window=WINDOW) == why


def test_a_new_grant_replaces_the_clinician_s_earlier_one_and_expired_grants_go() -> None:
    first = BreakGlassGrant(grant("t-1", now=NOW, lasts=timedelta(hours=4)), "risk_alert_page")
    other = BreakGlassGrant(grant("t-2", now=NOW, lasts=timedelta(hours=1)), "crisis_contact")
    later = NOW + timedelta(hours=2)
    again = BreakGlassGrant(grant("t-1", now=later, lasts=timedelta(hours=4)), "safety_check")
    record = ClientRecord("c-1").breaking_glass(first, NOW).breaking_glass(other, NOW)
    assert [g.access.therapist_id for g in record.break_glass] == ["t-1", "t-2"]
    assert record.breaking_glass(again, later).break_glass == (again,)
    assert again.access.expires_at == later + timedelta(hours=4)
