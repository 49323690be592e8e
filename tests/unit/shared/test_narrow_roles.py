"""Narrow roles (issue 19): service scopes, and what `shared.care.access` decides with them.

A service does what its token's scopes name and nothing else; an admin holds every scope;
a clinician's break-glass grant opens the record to read, only while it lasts.
"""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from shared.care.access import BreakGlass, decide
from shared.care.relationship import Access, CareRelationships
from shared.http.auth import Principal, Role, ensure_scope, mint_token, verify_token
from shared.http.mint_token import main as mint_main
from shared.http.problems import Problem
from shared.http.scopes import CATALOGUE, INTAKE_READ, INTAKE_WRITE, RECIPIENTS_CONTACT, parse_scopes
from shared.settings import AuthSettings

SETTINGS = AuthSettings(secret=SecretStr("a-test-secret-that-is-long-enough-for-hs256"))
NOW = datetime(2025, 3, 3, 12, tzinfo=UTC)
NOBODY = CareRelationships()


def reader() -> Principal:
    return Principal("web", Role.service, frozenset({INTAKE_READ}))


def test_a_service_token_carries_its_scopes_and_a_person_s_token_none() -> None:
    token = mint_token(SETTINGS, subject="web", role=Role.service, scopes=[INTAKE_READ, INTAKE_WRITE])
    assert verify_token(token, SETTINGS) == Principal(
        "web", Role.service, frozenset({INTAKE_READ, INTAKE_WRITE})
    )
    smuggled = mint_token(SETTINGS, subject="t-1", role=Role.clinician, scopes=[INTAKE_WRITE])
    assert verify_token(smuggled, SETTINGS).scopes == frozenset()


def test_the_scope_claim_is_space_separated_and_anything_else_grants_nothing() -> None:
    assert parse_scopes("intake:read  recipients:write") == {"intake:read", "recipients:write"}
    assert parse_scopes(["intake:read"]) == frozenset()
    assert parse_scopes(None) == frozenset()


def test_admins_hold_every_scope_services_theirs_and_people_none() -> None:
    assert all(Principal("ops", Role.admin).holds(scope) for scope in CATALOGUE)
    assert reader().holds(INTAKE_READ) and not reader().holds(INTAKE_WRITE)
    assert not Principal("c-1", Role.client).holds(INTAKE_READ)
    assert not Principal("t-1", Role.clinician).holds(INTAKE_READ)


def test_a_service_acts_for_a_client_or_therapist_only_with_the_scope_named() -> None:
    assert reader().may_act_for_client("anyone", INTAKE_READ)
    assert not reader().may_act_for_client("anyone", INTAKE_WRITE)
    assert not reader().may_act_for_therapist("t-1", RECIPIENTS_CONTACT)


def test_a_service_without_the_scope_is_refused_with_403_naming_it() -> None:
    with pytest.raises(Problem) as refused:
        ensure_scope(reader(), RECIPIENTS_CONTACT)
    assert refused.value.status == 403 and "recipients:contact" in refused.value.detail
    assert ensure_scope(reader(), INTAKE_READ) == reader()
    assert ensure_scope(Principal("c-1", Role.client), RECIPIENTS_CONTACT).role is Role.client


def test_a_service_sees_a_record_only_with_the_scope_of_the_route() -> None:
    granted = decide(reader(), "c-1", NOBODY, NOW, scope=INTAKE_READ)
    refused = decide(reader(), "c-1", NOBODY, NOW, scope=INTAKE_WRITE)
    assert (granted.access, granted.basis) == (Access.record, "service")
    assert (refused.access, refused.basis) == (Access.none, "missing_scope")
    assert decide(Principal("ops", Role.admin), "c-1", NOBODY, NOW, scope=INTAKE_WRITE).allows(Access.record)


def grant_for(therapist_id: str, *, hours: float = 4) -> BreakGlass:
    return BreakGlass(therapist_id, granted_at=NOW, expires_at=NOW + timedelta(hours=hours))


def test_an_unexpired_break_glass_grant_opens_the_record_to_read_for_the_clinician_named() -> None:
    on_call = Principal("t-on-call", Role.clinician)
    grants = [grant_for("t-on-call")]
    read = decide(on_call, "c-1", NOBODY, NOW + timedelta(hours=1), scope=INTAKE_READ, break_glass=grants)
    assert (read.access, read.basis) == (Access.record, "break_glass")


@pytest.mark.parametrize(
    ("therapist_id", "at", "writes"),
    [
        ("t-other", timedelta(hours=1), False),  # the grant names someone else
        ("t-on-call", timedelta(hours=4), False),  # expired
        ("t-on-call", timedelta(hours=-1), False),  # not granted yet
        ("t-on-call", timedelta(hours=1), True),  # a write never goes through it
    ],
)
def test_break_glass_gives_nothing_to_others_after_expiry_or_for_writing(
    therapist_id: str, at: timedelta, writes: bool
) -> None:
    who = Principal(therapist_id, Role.clinician)
    decision = decide(
        who, "c-1", NOBODY, NOW + at, scope=INTAKE_READ, break_glass=[grant_for("t-on-call")], writes=writes
    )
    assert decision.access is Access.none and decision.basis == "no_relationship"


def test_make_token_mints_a_service_token_with_scopes_and_refuses_unknown_ones(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JWT_SECRET", SETTINGS.secret.get_secret_value() if SETTINGS.secret else "")
    monkeypatch.delenv("CAREPATH_ENV", raising=False)
    assert (
        mint_main(["--role", "service", "--subject", "web", "--scope", "intake:read recipients:write"]) == 0
    )
    token = capsys.readouterr().out.strip()
    assert verify_token(token, AuthSettings()).scopes == {"intake:read", "recipients:write"}
    assert mint_main(["--role", "service", "--scope", "everything:all"]) == 2
    assert mint_main(["--role", "clinician", "--scope", "intake:read"]) == 2
