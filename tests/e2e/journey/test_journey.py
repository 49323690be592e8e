"""The whole journey across the four services as real processes, on real Kafka and MongoDB.

intake → matching → scheduling → notifications and back: each test walks one client through
a part of the journey over the services' HTTP APIs and reads what they published from
Kafka, checking the data, the shared correlation id (the intake id) and the e-mails that
reached the SMTP server. See conftest.py for how the system is started and shared.
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from shared.http.auth import Role
from tests.e2e.journey.system import ADMIN, SERVICE, System, bearer, headers_of, value_of
from tests.support.kafka import eventually
from tests.unit.intake.samples import HIGH_RISK, complete_sections

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CLIENT_WINDOWS = [{"day": day, "start": "07:00", "end": "21:00"} for day in DAYS]
THERAPIST_WEEK = [{"day": day, "start": "09:00", "end": "17:00"} for day in DAYS]
PLAN: dict[str, Any] = {
    "approach": "cbt",
    "techniques": ["exposure", "cognitive_restructuring"],
    "goals": [
        {
            "code": "reduce_panic",
            "description": "Take the train to work again.",
            "target": {"measure": "gad7", "comparison": "below", "value": 8},
        }
    ],
    "session_cadence": "biweekly",
    "check_in_interval_days": 7,
}
# Specialties that make the ranking of a test's therapists unambiguous.
STRONG = {"specialties": [{"concern": "anxiety", "years": 15}, {"concern": "stress", "years": 12}]}
GOOD = {"specialties": [{"concern": "anxiety", "years": 6}]}
FAIR = {"specialties": [{"concern": "stress", "years": 2}]}
WEAK = {"specialties": [], "approaches": ["psychodynamic"]}


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def a_place() -> str:
    """A jurisdiction of this test's own: its therapists are licensed nowhere else."""
    letters = string.ascii_uppercase
    return f"X{random.choice(letters)}-{''.join(random.choices(letters + string.digits, k=3))}"


def profile(place: str, **overrides: Any) -> dict[str, Any]:
    return {
        "gender": "female",
        "languages": ["en"],
        "licensed_jurisdictions": [place],
        "credentials": ["lmft"],
        "specialties": [{"concern": "anxiety", "years": 4}],
        "approaches": ["cbt"],
        "competencies": [],
        "formats": ["video"],
        "price_per_session": 120,
        "capacity": 10,
        "high_acuity": False,
        "timezone": "America/Los_Angeles",
    } | overrides


def email_of(recipient_id: str) -> str:
    return f"{recipient_id}@journey.example"


def subjects(mails: list[EmailMessage]) -> list[str]:
    return [str(m["Subject"]) for m in mails]


def has_calendar(mail: EmailMessage) -> bool:
    return any(part.get_content_type() == "text/calendar" for part in mail.iter_attachments())


class Journey:
    """One test's client, therapists and place, driven through the services' HTTP APIs."""

    def __init__(self, system: System, http: httpx.AsyncClient) -> None:
        self.system, self.http = system, http
        self.place = a_place()
        self.client_id = new_id("client")
        self.me = bearer(self.client_id, Role.client)
        self.therapists: list[str] = []

    async def seed(self, *specialties: dict[str, Any]) -> list[str]:
        """Therapists in this place (best first), their availability, and all as recipients."""
        for n, overrides in enumerate(specialties):
            therapist_id = new_id(f"therapist{n}")
            put = await self.http.put(
                self.system.url("matching", f"/therapists/{therapist_id}"),
                json=profile(self.place, **overrides),
                headers=ADMIN,
            )
            assert put.status_code in (200, 201), put.text
            available = await self.http.put(
                self.system.url("scheduling", f"/therapists/{therapist_id}/availability"),
                json={"timezone": "America/Los_Angeles", "weekly": THERAPIST_WEEK},
                headers=ADMIN,
            )
            assert available.status_code == 200, available.text
            await self.register(therapist_id, "therapist")
            self.therapists.append(therapist_id)
        await self.register(self.client_id, "client")
        return self.therapists

    async def register(self, recipient_id: str, role: str) -> None:
        answer = await self.http.put(
            self.system.url("notifications", f"/recipients/{recipient_id}"),
            json={"role": role, "email": email_of(recipient_id), "timezone": "America/Los_Angeles"},
            headers=SERVICE,
        )
        assert answer.status_code == 200, answer.text

    async def submit_intake(self, **overrides: Any) -> tuple[str, dict[str, Any]]:
        """A draft saved in two steps, then submitted: the intake id (the journey) and the answer."""
        sections = complete_sections(jurisdiction=self.place, availability=CLIENT_WINDOWS, **overrides)
        first_half = {k: sections[k] for k in ("jurisdiction", "timezone", "languages", "concerns")}
        created = await self.http.post(
            self.system.url("intake", "/intakes"),
            json={"client_id": self.client_id, **first_half},
            headers=self.me,
        )
        assert created.status_code == 201, created.text
        intake_id = str(created.json()["id"])
        rest = {k: v for k, v in sections.items() if k not in first_half}
        saved = await self.http.patch(
            self.system.url("intake", f"/intakes/{intake_id}"), json=rest, headers=self.me
        )
        assert saved.status_code == 200, saved.text
        submitted = await self.http.post(
            self.system.url("intake", f"/intakes/{intake_id}/submit"), headers=self.me
        )
        assert submitted.status_code == 200, submitted.text
        return intake_id, submitted.json()

    async def one(
        self, event: str, *, settle: float = 0.0, timeout: float = 30.0
    ) -> tuple[dict[str, Any], dict[str, str]]:
        (record,) = await self.system.records(event, self.client_id, settle=settle, timeout=timeout)
        return value_of(record), headers_of(record)

    async def nth(self, event: str, n: int, *, settle: float = 0.0) -> tuple[dict[str, Any], dict[str, str]]:
        records = await self.system.records(event, self.client_id, expect=n, settle=settle)
        assert len(records) == n, [value_of(r) for r in records]
        return value_of(records[-1]), headers_of(records[-1])

    async def mails(self, recipient_id: str, subject: str, *, count: int = 1) -> list[EmailMessage]:
        """The e-mails to `recipient_id` with `subject`, once `count` arrived (and a moment more)."""

        async def arrived() -> bool:
            return subjects(self.system.mails_to(email_of(recipient_id))).count(subject) >= count

        try:
            await eventually(arrived, timeout=30.0)
        except AssertionError:
            sent = [(str(m["To"]), str(m["Subject"])) for m in self.system.mail.messages]
            deliveries = await self.http.get(
                self.system.url("notifications", f"/recipients/{recipient_id}/deliveries"), headers=ADMIN
            )
            raise AssertionError(
                f"no {subject!r} to {recipient_id}; mailed: {sent}; its deliveries: {deliveries.text}"
            ) from None
        return [m for m in self.system.mails_to(email_of(recipient_id)) if str(m["Subject"]) == subject]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def test_an_intake_becomes_one_proposal_one_introduction_two_invitations_and_a_followed_plan(
    system: System, http: httpx.AsyncClient
) -> None:
    journey = Journey(system, http)
    best, *others = await journey.seed(STRONG, GOOD, FAIR, WEAK)

    intake_id, submitted = await journey.submit_intake()
    assert submitted["crisis_resources"] is None

    completed, completed_headers = await journey.one("intake-completed")
    assert (completed["intake_id"], completed["jurisdiction"]) == (intake_id, journey.place)
    assert completed["risk_level"] == "none"

    proposal, proposal_headers = await journey.one("match-proposed", settle=2.0)
    candidates = [c["therapist_id"] for c in proposal["candidates"]]
    assert proposal["intake_id"] == intake_id and candidates[0] == best
    assert set(candidates) <= set(journey.therapists) and len(candidates) == 3
    assert proposal_headers["causation_id"] == completed_headers["ce_id"]

    booked, booked_headers = await journey.one("session-booked", settle=2.0)
    assert (booked["sequence"], booked["therapist_id"]) == (1, best)
    assert booked["series_id"] and booked["join_url"].startswith("https://")
    starts = datetime.fromisoformat(booked["starts_at"])
    assert datetime.fromisoformat(booked["ends_at"]) - starts == timedelta(minutes=50)
    assert booked_headers["causation_id"] == proposal_headers["ce_id"]

    (to_client,) = await journey.mails(journey.client_id, "Your introduction session is booked")
    (to_therapist,) = await journey.mails(best, f"Session booked with client {journey.client_id}")
    assert has_calendar(to_client) and has_calendar(to_therapist)
    assert booked["join_url"] in str(to_client.get_body(("plain",)))
    for other in others:
        assert not system.mails_to(email_of(other)), "only the booked therapist hears of the session"

    # The introduction took place; the clinician writes the plan (intake knows them from session-booked).
    clinician = bearer(best, Role.clinician)

    async def plan_written() -> bool:
        answer = await http.put(
            system.url("intake", f"/clients/{journey.client_id}/treatment-plan"), json=PLAN, headers=clinician
        )
        return answer.status_code == 201

    await eventually(plan_written, timeout=20.0, interval=0.3)
    plan, plan_headers = await journey.one("treatment-plan-updated")
    assert (plan["version"], plan["therapist_id"], plan["status"]) == (1, best, "active")
    assert (plan["session_cadence"], plan["check_in_interval_days"]) == ("biweekly", 7)
    assert plan["goals"] == ["reduce_panic"] and "train" not in str(plan)

    # Scheduling follows the plan: the series on its cadence, check-ins on its interval. The
    # series books its later sessions once the introduction has ended (a day away at least, by
    # the 24 h notice), and the first check-in falls due a plan interval after it; a real-time
    # test sees both scheduled, not fired.
    async def followed() -> bool:
        answer = await http.get(
            system.url("scheduling", f"/clients/{journey.client_id}/sessions"), headers=ADMIN
        )
        care = answer.json()
        return bool(
            care.get("series")
            and care["series"]["cadence"] == "biweekly"
            and care["check_ins"]["interval_days"] == 7
        )

    await eventually(followed, timeout=20.0)
    care = (
        await http.get(system.url("scheduling", f"/clients/{journey.client_id}/sessions"), headers=ADMIN)
    ).json()
    assert care["series"]["therapist_id"] == best
    assert datetime.fromisoformat(care["check_ins"]["next_due_at"]) == starts + timedelta(days=7)
    assert [s["session_id"] for s in care["sessions"]] == [booked["session_id"]]

    journey_headers = [completed_headers, proposal_headers, booked_headers, plan_headers]
    assert {h["correlation_id"] for h in journey_headers} == {intake_id}


async def test_a_high_risk_intake_pages_the_on_call_clinician_and_sends_the_client_crisis_resources(
    system: System, http: httpx.AsyncClient
) -> None:
    journey = Journey(system, http)
    await journey.seed(STRONG | {"high_acuity": True})

    intake_id, submitted = await journey.submit_intake(**HIGH_RISK)
    assert submitted["crisis_resources"], "the client is shown crisis resources at once"
    assert "988" in str(submitted["crisis_resources"])

    flagged, flagged_headers = await journey.one("risk-flagged", settle=1.0)
    assert (flagged["client_id"], flagged["intake_id"], flagged["risk_level"]) == (
        journey.client_id,
        intake_id,
        "high",
    )
    assert flagged["reasons"] and flagged_headers["correlation_id"] == intake_id
    completed, _ = await journey.one("intake-completed")
    assert completed["risk_level"] == "high"

    on_call = system.rota[0]
    (page,) = await journey.mails(on_call, f"URGENT: risk follow-up needed for client {journey.client_id}")
    (crisis,) = await journey.mails(journey.client_id, "Help is available right now")
    assert "988" in str(crisis.get_body(("plain",)))
    assert "988" not in str(page["Subject"]) and "suicid" not in str(page.get_body(("plain",))).lower()


async def test_a_declined_therapist_is_replaced_by_a_new_proposal_without_them_and_a_new_booking(
    system: System, http: httpx.AsyncClient
) -> None:
    journey = Journey(system, http)
    await journey.seed(STRONG, GOOD, FAIR, WEAK)
    intake_id, _ = await journey.submit_intake()
    proposal, _ = await journey.one("match-proposed")
    first, _ = await journey.one("session-booked")
    declined_id = first["therapist_id"]

    answer = await http.post(
        system.url("matching", f"/matches/{proposal['match_id']}/decline"),
        json={"therapist_id": declined_id},
        headers=journey.me,
    )
    assert answer.status_code == 200, answer.text

    declined, _ = await journey.one("match-declined")
    assert (declined["match_id"], declined["therapist_id"]) == (proposal["match_id"], declined_id)
    second, second_headers = await journey.nth("match-proposed", 2)
    assert declined_id not in [c["therapist_id"] for c in second["candidates"]]
    assert second["candidates"] and second_headers["correlation_id"] == intake_id
    cancelled, _ = await journey.one("session-cancelled")
    assert cancelled["session_id"] == first["session_id"]
    rebooked, rebooked_headers = await journey.nth("session-booked", 2, settle=1.0)
    assert rebooked["therapist_id"] == second["candidates"][0]["therapist_id"] != declined_id
    assert rebooked["sequence"] == 1 and rebooked_headers["correlation_id"] == intake_id
    await journey.mails(journey.client_id, "We will propose other therapists")
    await journey.mails(journey.client_id, "Your session is cancelled")
    await journey.mails(journey.client_id, "Your introduction session is booked", count=2)


async def test_a_rescheduled_then_cancelled_introduction_reaches_the_client_each_time(
    system: System, http: httpx.AsyncClient
) -> None:
    journey = Journey(system, http)
    (therapist_id,) = await journey.seed(STRONG)
    intake_id, _ = await journey.submit_intake()
    booked, _ = await journey.one("session-booked")
    session_id = booked["session_id"]
    starts = datetime.fromisoformat(booked["starts_at"])

    slots = await http.get(
        system.url("scheduling", f"/therapists/{therapist_id}/slots"),
        params={"from": (starts + timedelta(days=2)).isoformat()},
        headers=ADMIN,
    )
    assert slots.status_code == 200, slots.text
    later = slots.json()["slots"][0]["starts_at"]
    moved = await http.post(
        system.url("scheduling", f"/sessions/{session_id}/reschedule"),
        json={"starts_at": later},
        headers=journey.me,
    )
    assert moved.status_code == 200, moved.text
    rescheduled, rescheduled_headers = await journey.one("session-rescheduled")
    assert rescheduled["session_id"] == session_id
    assert datetime.fromisoformat(rescheduled["starts_at"]) == datetime.fromisoformat(later)
    assert datetime.fromisoformat(rescheduled["previous_starts_at"]) == starts
    (moved_mail,) = await journey.mails(journey.client_id, "Your session has moved")
    assert has_calendar(moved_mail)

    cancel = await http.post(
        system.url("scheduling", f"/sessions/{session_id}/cancel"), json={}, headers=journey.me
    )
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["status"] == "cancelled"  # days ahead: not a late cancel
    cancelled, cancelled_headers = await journey.one("session-cancelled")
    assert (cancelled["session_id"], cancelled["cancelled_by"]) == (session_id, "client")
    await journey.mails(journey.client_id, "Your session is cancelled")
    await journey.mails(therapist_id, f"Session with client {journey.client_id} is cancelled")
    assert {rescheduled_headers["correlation_id"], cancelled_headers["correlation_id"]} == {intake_id}


async def test_a_switch_of_therapist_proposes_others_and_once_accepted_moves_the_introduction(
    system: System, http: httpx.AsyncClient
) -> None:
    journey = Journey(system, http)
    await journey.seed(STRONG, GOOD, FAIR)
    intake_id, _ = await journey.submit_intake()
    first, _ = await journey.one("match-proposed")
    booked, _ = await journey.one("session-booked")
    former = booked["therapist_id"]

    # In care with the first therapist (once matching has seen the booking: a client not yet
    # in care who "switches" declines their open proposal instead), they ask for another one.
    async def in_care() -> bool:
        answer = await http.get(
            system.url("matching", f"/clients/{journey.client_id}/matches"), headers=journey.me
        )
        matches = answer.json()["items"] if answer.status_code == 200 else []
        return any(m["booked_therapist_id"] == former for m in matches)

    await eventually(in_care, timeout=20.0, interval=0.3)
    switch = system.url("matching", f"/clients/{journey.client_id}/switch")
    asked = await http.post(switch, json={"reason": "therapist_switch"}, headers=journey.me)
    assert asked.status_code == 200, asked.text
    offered = asked.json()["proposal"]
    again = await http.post(switch, json={}, headers=journey.me)
    assert again.status_code == 200 and again.json()["proposal"]["match_id"] == offered["match_id"]

    second, second_headers = await journey.nth("match-proposed", 2, settle=1.0)
    assert second["match_id"] == offered["match_id"] != first["match_id"]
    candidates = [c["therapist_id"] for c in second["candidates"]]
    assert candidates and former not in candidates and set(candidates) <= set(journey.therapists)
    assert second_headers["correlation_id"] == intake_id
    # Nothing moves until the client chooses: the introduction with the former therapist stands.
    assert len(await system.records("session-cancelled", journey.client_id, expect=0, settle=1.0)) == 0
    await journey.mails(journey.client_id, "Your therapist matches are ready", count=2)

    chosen = candidates[0]
    accepted = await http.post(
        system.url("matching", f"/matches/{second['match_id']}/accept"),
        json={"therapist_id": chosen},
        headers=journey.me,
    )
    assert accepted.status_code == 200, accepted.text
    acceptance, acceptance_headers = await journey.one("match-accepted")
    assert (acceptance["match_id"], acceptance["therapist_id"]) == (second["match_id"], chosen)

    cancelled, cancelled_headers = await journey.one("session-cancelled", settle=1.0)
    assert (cancelled["session_id"], cancelled["therapist_id"]) == (booked["session_id"], former)
    assert (cancelled["cancelled_by"], cancelled["reason"]) == ("system", "therapist_switched")
    moved, moved_headers = await journey.nth("session-booked", 2, settle=1.0)
    assert (moved["therapist_id"], moved["sequence"]) == (chosen, 1)
    assert moved["session_id"] != booked["session_id"]
    assert moved_headers["causation_id"] == acceptance_headers["ce_id"]
    assert {h["correlation_id"] for h in (acceptance_headers, cancelled_headers, moved_headers)} == {
        intake_id
    }

    care = (
        await http.get(system.url("scheduling", f"/clients/{journey.client_id}/sessions"), headers=ADMIN)
    ).json()
    upcoming = {s["session_id"]: s for s in care["sessions"]}
    assert upcoming[moved["session_id"]]["therapist_id"] == chosen
    assert upcoming.get(booked["session_id"], {}).get("status", "cancelled") == "cancelled"

    await journey.mails(journey.client_id, "You chose your therapist")
    await journey.mails(journey.client_id, "Your session is cancelled")
    await journey.mails(former, f"Session with client {journey.client_id} is cancelled")
    (to_new,) = await journey.mails(chosen, f"Session booked with client {journey.client_id}")
    assert has_calendar(to_new)
    await journey.mails(journey.client_id, "Your introduction session is booked", count=2)
