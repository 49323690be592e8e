"""Who may see a client's record: the client, their clinicians, admins and services."""

from __future__ import annotations

import pytest

from services.intake.__main__ import main
from services.intake.api.access import client_record_for, ensure_visible
from services.intake.store import IntakeStores
from services.intake.store.client_records import record_therapist
from shared.http.auth import Principal, Role
from shared.http.problems import Problem
from tests.unit.intake import samples

INTAKE = {"_id": "intake-1", "client_id": "client-1"}


async def in_care_with(therapist_id: str) -> IntakeStores:
    stores = samples.stores()
    await stores.clients.upsert("client-1", record_therapist("client-1", therapist_id))
    return stores


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        (Principal("client-1", Role.client), True),
        (Principal("client-2", Role.client), False),
        (Principal("therapist-1", Role.clinician), True),
        (Principal("therapist-9", Role.clinician), False),
        (Principal("client-1", Role.clinician), False),  # a clinician whose id happens to be the client's
        (Principal("ops", Role.admin), True),
        (Principal("scheduling", Role.service), True),
    ],
)
async def test_a_record_is_visible_to_its_client_their_clinicians_and_privileged_callers(
    who: Principal, allowed: bool
) -> None:
    stores = await in_care_with("therapist-1")
    if allowed:
        assert await ensure_visible(who, dict(INTAKE), stores, "intake") == INTAKE
        assert (await client_record_for(who, "client-1", stores))["therapist_ids"] == ["therapist-1"]
    else:
        with pytest.raises(Problem) as hidden:
            await ensure_visible(who, dict(INTAKE), stores, "intake")
        assert hidden.value.status == 404  # by id: indistinguishable from a record that does not exist
        with pytest.raises(Problem) as refused:
            await client_record_for(who, "client-1", stores)
        assert refused.value.status == 403


async def test_a_missing_record_is_not_found_even_for_an_admin() -> None:
    with pytest.raises(Problem) as missing:
        await ensure_visible(Principal("ops", Role.admin), None, samples.stores(), "intake")
    assert missing.value.status == 404


def test_the_service_refuses_to_start_without_encryption_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIELD_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("FIELD_ENCRYPTION_ACTIVE_KEY", raising=False)
    monkeypatch.setattr("services.intake.__main__.serve", lambda app, settings: pytest.fail("served"))
    assert main() == 2
