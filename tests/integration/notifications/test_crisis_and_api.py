"""Risk alerts at once, with crisis help where the client is; the recipients API's refusals
and who may read contact details.

Runs on the real broker and database, with a real SMTP server and SMS/push provider.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.http.auth import Role
from tests.integration.notifications.service import (
    ADMIN,
    ROTA,
    SERVICE,
    RunningNotifications,
    bearer,
    new_id,
)
from tests.unit.notifications import samples

ALWAYS_QUIET_AND_OPTED_OUT = {
    "channels": {"email": False, "sms": False, "push": False, "in_app": False},
    "quiet_hours": {"start": "00:00", "end": "23:59"},
}


async def test_risk_flag_reaches_the_on_call_clinician_and_the_client_at_once_in_quiet_hours_against_opt_outs(
    notifications: RunningNotifications,
) -> None:
    n = notifications
    client, on_call = new_id("client"), ROTA[0]
    client_phone, on_call_phone, on_call_push = "+15551110001", "+15551110002", "push-token-oncall-0001"
    await n.register(client, email=f"{client}@example.org", phone=client_phone)
    await n.register(
        on_call, role="on_call", email="oncall-1@example.org", phone=on_call_phone, push_token=on_call_push
    )
    for recipient in (client, on_call):
        await n.prefer(recipient, **ALWAYS_QUIET_AND_OPTED_OUT)

    await n.publish(samples.risk_flagged(client))

    await n.until(  # the clock does not move: nothing waits for quiet hours or a timer's backoff
        lambda: bool(
            n.mails_to(f"{client}@")
            and n.texts_to(client_phone)
            and n.mails_to("oncall-1@")
            and n.texts_to(on_call_phone)
            and n.texts_to(on_call_push, "push")
        )
    )
    (crisis_mail,) = n.mails_to(f"{client}@")
    assert crisis_mail["Subject"] == "Help is available right now"
    (crisis_text,) = n.texts_to(client_phone)
    assert "988" in crisis_text["text"] and "HOME to 741741" in crisis_text["text"]
    (page,) = n.texts_to(on_call_phone)
    assert page["text"].startswith("URGENT") and client in page["text"] and page["priority"] == "high"
    assert n.mails_to("oncall-1@")[0]["Subject"] == f"URGENT: risk follow-up needed for client {client}"

    inbox = await n.http.get(f"/v1/recipients/{client}/notifications", headers=bearer(client, Role.client))
    assert inbox.status_code == 200
    (entry,) = inbox.json()["items"]
    assert (entry["kind"], entry["critical"], entry["read"]) == ("crisis_resources", True, False)
    read = await n.http.post(
        f"/v1/recipients/{client}/notifications/{entry['id']}/read", headers=bearer(client, Role.client)
    )
    assert read.status_code == 200 and read.json()["read"] is True


async def inbox_of(n: RunningNotifications, recipient_id: str) -> list[dict[str, Any]]:
    answer = await n.http.get(f"/v1/recipients/{recipient_id}/notifications?limit=100", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def page_about(n: RunningNotifications, client: str) -> dict[str, Any]:
    """The on-call page for `client` in the first on-call clinician's in-app inbox."""
    found: list[dict[str, Any]] = []

    async def paged() -> bool:
        found[:] = [i for i in await inbox_of(n, ROTA[0]) if client in i["title"]]
        return bool(found)

    await n.until_async(paged)
    (page,) = found
    assert page["kind"] == "risk_alert" and page["critical"] is True
    return page


async def test_a_client_in_great_britain_gets_british_crisis_lines_and_the_page_names_gb(
    notifications: RunningNotifications,
) -> None:
    n = notifications
    client, phone = new_id("client"), "+447700900123"
    await n.register(client, email=f"{client}@example.org", phone=phone, timezone="Europe/London")

    await n.publish(samples.risk_flagged(client, jurisdiction="GB-ENG", language="en"))
    await n.until(lambda: bool(n.texts_to(phone) and n.mails_to(f"{client}@")))

    (text,) = n.texts_to(phone)
    assert "Call 116 123" in text["text"] and "Call 111" in text["text"] and "SHOUT to 85258" in text["text"]
    assert "999 or 112" in text["text"]
    assert "988" not in text["text"] and "741741" not in text["text"] and "911" not in text["text"]
    (mail,) = n.mails_to(f"{client}@")
    assert mail["Subject"] == "Help is available right now"
    page = await page_about(n, client)
    assert "Country: GB" in page["body"]


async def test_a_spanish_speaker_in_mexico_gets_mexican_crisis_lines_in_spanish(
    notifications: RunningNotifications,
) -> None:
    n = notifications
    client, phone = new_id("client"), "+525512345678"
    await n.register(client, email=f"{client}@example.org", phone=phone, timezone="America/Mexico_City")

    await n.publish(samples.risk_flagged(client, jurisdiction="MX-CMX", language="es"))
    await n.until(lambda: bool(n.texts_to(phone) and n.mails_to(f"{client}@")))

    (text,) = n.texts_to(phone)
    assert text["text"].startswith("Carepath: hay apoyo para ti ahora")  # discreet on a lock screen
    assert "daño" not in text["text"]
    assert "Llama al 800 911 2000 (gratis, 24/7)" in text["text"]
    assert "988" not in text["text"]
    (mail,) = n.mails_to(f"{client}@")
    assert mail["Subject"] == "Hay ayuda disponible ahora mismo"

    async def in_the_app() -> bool:
        return bool(await inbox_of(n, client))

    await n.until_async(in_the_app)  # the in-app entry is written alongside, not before
    (entry,) = await inbox_of(n, client)
    assert "Línea de la Vida" in entry["body"]
    page = await page_about(n, client)
    assert "Country: MX" in page["body"]


@pytest.mark.parametrize(("jurisdiction", "country"), [("BR-SP", "BR"), (None, "unknown")])
async def test_a_client_anywhere_else_gets_the_international_fallback_and_the_page_names_the_country(
    notifications: RunningNotifications, jurisdiction: str | None, country: str
) -> None:
    n = notifications
    client, phone = new_id("client"), f"+55119{uuid.uuid4().int % 10**8:08d}"  # one per case
    await n.register(client, phone=phone)

    await n.publish(samples.risk_flagged(client, jurisdiction=jurisdiction))
    await n.until(lambda: bool(n.texts_to(phone)))

    (text,) = n.texts_to(phone)
    assert "findahelpline.com" in text["text"] and "112 works in most countries" in text["text"]
    assert "988" not in text["text"]
    page = await page_about(n, client)
    assert f"Country: {country}" in page["body"]


def assert_problem(answer: Any, status: int, field: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    fields = [error["field"] for error in body.get("errors", [])] or [body.get("field")]
    assert field in fields, body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "client", "email": "not-an-address"}, "body.email"),
        ({"role": "client", "phone": "555-1234"}, "body.phone"),
        ({"role": "client", "timezone": "Mars/Olympus_Mons"}, "body.timezone"),
        ({"role": "client", "locale": "fr"}, "body.locale"),
        ({"role": "patient"}, "body.role"),
        ({"role": "client", "nickname": "Ana"}, "body.nickname"),
    ],
)
async def test_bad_recipient_details_get_a_problem_naming_the_field(
    notifications: RunningNotifications, body: dict[str, Any], field: str
) -> None:
    answer = await notifications.http.put(f"/v1/recipients/{new_id('client')}", json=body, headers=SERVICE)

    assert_problem(answer, 422, field)
    assert "not-an-address" not in answer.text and "555-1234" not in answer.text  # values are never echoed


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "body.quiet_hours.start"),
        ({"channels": {"fax": True}}, "body.channels.fax.[key]"),
        ({"kinds": {"gossip": {"email": False}}}, "body.kinds.gossip.[key]"),
    ],
)
async def test_bad_preferences_get_a_problem_naming_the_field(
    notifications: RunningNotifications, body: dict[str, Any], field: str
) -> None:
    answer = await notifications.http.put(
        f"/v1/recipients/{new_id('client')}/preferences", json=body, headers=SERVICE
    )

    assert_problem(answer, 422, field)


async def test_a_path_id_that_could_never_exist_is_refused(notifications: RunningNotifications) -> None:
    answer = await notifications.http.get("/v1/recipients/bad%20id!/deliveries", headers=ADMIN)

    assert_problem(answer, 422, "path.recipient_id")


async def test_contact_details_are_readable_only_by_their_recipient_and_admins(
    notifications: RunningNotifications,
) -> None:
    n = notifications
    client = new_id("client")
    await n.register(client, email=f"{client}@example.org", phone="+15552220003")

    itself = await n.http.get(f"/v1/recipients/{client}", headers=bearer(client, Role.client))
    admin = await n.http.get(f"/v1/recipients/{client}", headers=ADMIN)
    assert itself.status_code == admin.status_code == 200
    assert itself.json()["email"] == admin.json()["email"] == f"{client}@example.org"

    for other in (
        bearer(new_id("client"), Role.client),
        bearer("therapist-1", Role.clinician),
        SERVICE,
    ):
        refused = await n.http.get(f"/v1/recipients/{client}", headers=other)
        assert refused.status_code == 403
        assert f"{client}@example.org" not in refused.text
    assert (await n.http.get(f"/v1/recipients/{client}")).status_code == 401

    registered = await n.http.put(
        f"/v1/recipients/{client}", json={"role": "client", "email": f"{client}@example.org"}, headers=SERVICE
    )
    assert "@" not in registered.text  # the answer to a write names channels, never addresses
    assert registered.json()["channels"] == ["email", "in_app"]


async def test_a_client_may_not_register_someone_else_or_as_an_on_call_clinician(
    notifications: RunningNotifications,
) -> None:
    client = new_id("client")
    as_client = bearer(client, Role.client)

    someone_else = await notifications.http.put(
        f"/v1/recipients/{new_id('client')}", json={"role": "client"}, headers=as_client
    )
    on_call = await notifications.http.put(
        f"/v1/recipients/{client}", json={"role": "on_call"}, headers=as_client
    )

    assert someone_else.status_code == on_call.status_code == 403


async def test_a_therapist_is_refused_a_clients_inbox_delivery_log_and_preferences_in_any_relationship(
    notifications: RunningNotifications,
) -> None:
    n = notifications
    client, therapist = new_id("client"), new_id("therapist")
    await n.register(client, email=f"{client}@example.org")
    # Booked with them (chosen, or in care): notifications grants a therapist nothing of the client.
    await n.publish(samples.session_booked(client, therapist, session_id=new_id("session")))
    await n.until(lambda: bool(n.mails_to(f"{client}@")))
    as_therapist = bearer(therapist, Role.clinician)

    for path in ("notifications", "deliveries", "preferences"):
        refused = await n.http.get(f"/v1/recipients/{client}/{path}", headers=as_therapist)
        assert refused.status_code == 403, path
        assert refused.headers["content-type"].startswith("application/problem+json"), path
        assert "items" not in refused.json() and "session" not in refused.text, path
    written = await n.http.put(f"/v1/recipients/{client}/preferences", json={}, headers=as_therapist)
    assert written.status_code == 403
