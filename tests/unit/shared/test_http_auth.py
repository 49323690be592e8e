"""Bearer JWTs: who a token names, and why a token is refused.

How routes answer (401/403 problem+json) is proven in test_http_dependencies.py.
"""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from shared.http.auth import Principal, Role, TokenError, mint_token, verify_token
from shared.settings import AuthSettings

SETTINGS = AuthSettings(secret=SecretStr("a-test-secret-that-is-long-enough-for-hs256"))


def test_minted_token_verifies_to_its_subject_and_role() -> None:
    token = mint_token(SETTINGS, subject="therapist-1", role=Role.clinician)
    assert verify_token(token, SETTINGS) == Principal("therapist-1", Role.clinician)


def test_token_with_a_bad_signature_is_refused() -> None:
    other = AuthSettings(secret=SecretStr("another-secret-of-sufficient-length-0000"))
    forged = mint_token(other, subject="therapist-1", role=Role.admin)
    with pytest.raises(TokenError, match="signature is invalid"):
        verify_token(forged, SETTINGS)


def test_expired_token_is_refused() -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    stale = mint_token(SETTINGS, subject="t-1", role=Role.client, ttl=timedelta(minutes=5), now=an_hour_ago)
    with pytest.raises(TokenError, match="expired"):
        verify_token(stale, SETTINGS)


def test_garbage_token_is_refused() -> None:
    with pytest.raises(TokenError, match="invalid"):
        verify_token("not.a.jwt", SETTINGS)


def test_clients_act_only_for_themselves_and_clinicians_for_their_own_clients() -> None:
    client = Principal("client-1", Role.client)
    clinician = Principal("therapist-1", Role.clinician)
    assert client.may_act_for_client("client-1", "s:w") and not client.may_act_for_client("client-2", "s:w")
    assert clinician.may_act_for_client("client-2", "s:w", treating_therapist_ids=["therapist-1"])
    assert not clinician.may_act_for_client("client-2", "s:w", treating_therapist_ids=["therapist-9"])
    assert clinician.may_act_for_therapist("therapist-1", "s:w")
    assert not clinician.may_act_for_therapist("t-2", "s:w")
