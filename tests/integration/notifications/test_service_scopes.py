"""Services act for recipients only with their scopes; contact details need their own (issue 19).

Contact details are where crisis messages and join links go: a backend that only sets
preferences must not be able to redirect them.
"""

from __future__ import annotations

from shared.http.auth import Role
from shared.http.scopes import RECIPIENTS_CONTACT, RECIPIENTS_WRITE
from tests.integration.notifications.service import ADMIN, RunningNotifications, bearer, new_id

PREFERENCES = {"quiet_hours": {"start": "22:00", "end": "07:00"}}


async def test_a_service_without_the_contact_scope_cannot_change_contact_details(
    notifications: RunningNotifications,
) -> None:
    client = new_id("client")
    registered = await notifications.http.put(
        f"/v1/recipients/{client}", json={"role": "client", "email": f"{client}@example.org"}, headers=ADMIN
    )
    assert registered.status_code == 200, registered.text
    preferences_only = bearer("web", Role.service, (RECIPIENTS_WRITE,))

    hijack = {"role": "client", "email": "attacker@example.org"}
    refused = await notifications.http.put(f"/v1/recipients/{client}", json=hijack, headers=preferences_only)
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    assert "recipients:contact" in refused.json()["detail"]
    read = await notifications.http.get(f"/v1/recipients/{client}", headers=ADMIN)
    assert read.json()["email"] == f"{client}@example.org"

    allowed = await notifications.http.put(
        f"/v1/recipients/{client}/preferences", json=PREFERENCES, headers=preferences_only
    )
    assert allowed.status_code == 200, allowed.text
    contacts = bearer("web", Role.service, (RECIPIENTS_CONTACT,))
    moved = {"role": "client", "email": f"new-{client}@example.org"}
    assert (
        await notifications.http.put(f"/v1/recipients/{client}", json=moved, headers=contacts)
    ).status_code == 200


async def test_a_service_without_scopes_acts_for_no_recipient(notifications: RunningNotifications) -> None:
    client = new_id("client")
    unscoped = bearer("web", Role.service)
    for answer in (
        await notifications.http.put(
            f"/v1/recipients/{client}/preferences", json=PREFERENCES, headers=unscoped
        ),
        await notifications.http.get(f"/v1/recipients/{client}/notifications", headers=unscoped),
        await notifications.http.put(f"/v1/recipients/{client}", json={"role": "client"}, headers=unscoped),
    ):
        assert answer.status_code == 403 and "scope" in answer.json()["detail"], answer.text
