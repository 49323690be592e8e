"""The whole journey across the four services as real processes, on real Kafka and MongoDB.

intake → matching → scheduling → notifications and back: each test walks one client through
a part of the journey over the services' HTTP APIs and reads what they published from
Kafka, checking the data, the shared correlation id (the intake id) and the e-mails that
reached the SMTP server. See conftest.py for how the system is started and shared.
"""

from __future__ import annotations

import asyncio
import random
import string
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from itertools import pairwise
from typing import Any

import httpx
import pytest

from shared.clock import speed_of
from shared.http.auth import Role
from tests.e2e.journey.system import ADMIN, SERVICE, System, bearer, described, headers_of, value_of
from tests.support.kafka import eventually
from tests.unit.intake.samples import HIGH_RISK, complete_sections

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Everyone is available around the clock and therapists take bookings at no notice, so an
# introduction starts minutes (domain time) after it is booked: seconds on the demo clock.
CLIENT_WINDOWS = [{"day": day, "start": "00:00", "end": "24:00"} for day in DAYS]
THERAPIST_WEEK = [{"day": day, "start": "00:00", "end": "24:00"} for day in DAYS]
OFFICE_WEEK = [{"day": day, "start": "09:00", "end": "17:00"} for day in DAYS]
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
    "check_in_interval_days": 1,
}
LATER = 72
"""Booking notice (hours) for tests that move or cancel an introduction before it begins: three
real minutes of room on the demo clock, however slow the machine."""
# Specialties that make the ranking of a test's therapists unambiguous.
STRONG = {"specialties": [{"concern": "anxiety", "years": 15}, {"concern": "stress", "years": 12}]}
GOOD = {"specialties": [{"concern": "anxiety", "years": 6}]}
FAIR = {"specialties": [{"concern": "stress", "years": 2}]}
WEAK = {"specialties": [], "approaches": ["psychodynamic"]}


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def a_place(country: str = "US") -> str:
    """A jurisdiction of this test's own in a served country: its therapists are licensed nowhere else."""
    return f"{country}-{''.join(random.choices(string.ascii_uppercase + string.digits, k=3))}"


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

    def __init__(self, system: System, http: httpx.AsyncClient, *, country: str = "US") -> None:
        self.system, self.http = system, http
        self.place = a_place(country)
        self.client_id = new_id("client")
        self.me = bearer(self.client_id, Role.client)
        self.therapists: list[str] = []

    async def seed(
        self,
        *specialties: dict[str, Any],
        week: list[dict[str, str]] = THERAPIST_WEEK,
        notice_hours: int = 0,
    ) -> list[str]:
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
                json={"timezone": "America/Los_Angeles", "weekly": week, "min_notice_hours": notice_hours},
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

    async def accept(self, match_id: str, therapist_id: str) -> dict[str, Any]:
        """The client chooses `therapist_id` from proposal `match_id`: match-accepted."""
        accepted = await self.http.post(
            self.system.url("matching", f"/matches/{match_id}/accept"),
            json={"therapist_id": therapist_id},
            headers=self.me,
        )
        assert accepted.status_code == 200, accepted.text
        return dict(accepted.json())

    async def attend(self, session: dict[str, Any], attendance: str = "held") -> dict[str, Any]:
        """The session's therapist records it held (or a no-show) once it has started."""
        starts = datetime.fromisoformat(session["starts_at"])
        ahead = (starts - self.system.clock()).total_seconds() / speed_of(self.system.clock)
        await asyncio.sleep(max(ahead, 0.0) + 0.05)  # an hour a second: the introduction is near
        therapist = bearer(session["therapist_id"], Role.clinician)
        recorded = await self.http.post(
            self.system.url("scheduling", f"/sessions/{session['session_id']}/attendance"),
            json={"attendance": attendance},
            headers=therapist,
        )
        assert recorded.status_code == 200, recorded.text
        return dict(recorded.json())

    async def status(self, service: str, path: str, who: dict[str, str]) -> int:
        return (await self.http.get(self.system.url(service, path), headers=who)).status_code

    async def first_with_headers(
        self, event: str, *, after: int = 0, timeout: float = 30.0
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The client's record of `event` after the first `after` (more may follow: timers fire)."""
        records = await self.system.records(event, self.client_id, expect=after + 1, timeout=timeout)
        return value_of(records[after]), headers_of(records[after])

    async def first(self, event: str, *, after: int = 0, timeout: float = 30.0) -> dict[str, Any]:
        return (await self.first_with_headers(event, after=after, timeout=timeout))[0]

    async def one(
        self, event: str, *, settle: float = 0.0, timeout: float = 30.0
    ) -> tuple[dict[str, Any], dict[str, str]]:
        records = await self.system.records(event, self.client_id, settle=settle, timeout=timeout)
        assert len(records) == 1, described(records)
        return value_of(records[0]), headers_of(records[0])

    async def nth(self, event: str, n: int, *, settle: float = 0.0) -> tuple[dict[str, Any], dict[str, str]]:
        records = await self.system.records(event, self.client_id, expect=n, settle=settle)
        assert len(records) == n, described(records)
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


async def test_the_client_chooses_and_care_follows_the_plan_they_acknowledged_through_to_a_check_in(
    system: System, http: httpx.AsyncClient
) -> None:
    journey = Journey(system, http)
    best, *others = await journey.seed(STRONG, GOOD, FAIR, WEAK)
    clinician = bearer(best, Role.clinician)
    client = journey.client_id

    intake_id, submitted = await journey.submit_intake()
    assert submitted["crisis_resources"] is None
    completed, completed_headers = await journey.one("intake-completed")
    assert (completed["intake_id"], completed["jurisdiction"]) == (intake_id, journey.place)

    proposal, proposal_headers = await journey.one("match-proposed", settle=1.0)
    candidates = [c["therapist_id"] for c in proposal["candidates"]]
    assert proposal["intake_id"] == intake_id and candidates[0] == best and len(candidates) == 3
    assert proposal["origin"] == "intake" and proposal_headers["causation_id"] == completed_headers["ce_id"]
    await journey.mails(client, "Your therapist matches are ready")

    # Proposed: the referral summary, nothing of the record; nothing is booked before the client chooses.
    async def referral_shown() -> bool:
        return await journey.status("intake", f"/clients/{client}/referral", clinician) == 200

    await eventually(referral_shown, timeout=20.0)
    assert await journey.status("intake", f"/clients/{client}/intakes", clinician) == 404
    assert await journey.status("scheduling", f"/clients/{client}/sessions", clinician) == 404
    assert not await system.records("session-booked", client, expect=0, settle=1.0)

    await journey.accept(proposal["match_id"], best)
    accepted, accepted_headers = await journey.one("match-accepted")
    assert accepted["therapist_id"] == best
    booked, booked_headers = await journey.one("session-booked", settle=1.0)
    assert (booked["sequence"], booked["therapist_id"], booked["kind"]) == (1, best, "introduction")
    assert booked["series_id"] and booked["join_url"].startswith("https://")
    assert booked_headers["causation_id"] == accepted_headers["ce_id"]
    starts = datetime.fromisoformat(booked["starts_at"])
    assert datetime.fromisoformat(booked["ends_at"]) - starts == timedelta(minutes=50)
    (to_client,) = await journey.mails(client, "Your introduction session is booked")
    (to_therapist,) = await journey.mails(best, f"Session booked with client {client}")
    assert has_calendar(to_client) and has_calendar(to_therapist)
    for other in others:
        assert not system.mails_to(email_of(other)), "only the chosen therapist hears of the session"

    # Chosen: the whole record, but the plan waits for the introduction.
    async def record_shown() -> bool:
        return await journey.status("intake", f"/clients/{client}/intakes", clinician) == 200

    await eventually(record_shown, timeout=20.0)
    plan_url = system.url("intake", f"/clients/{client}/treatment-plan")
    too_early = await http.put(plan_url, json=PLAN, headers=clinician)
    assert too_early.status_code == 409, too_early.text

    await journey.attend(booked)
    held, _ = await journey.one("session-attendance-recorded")
    assert (held["session_id"], held["attendance"]) == (booked["session_id"], "held")

    # In care: the plan starts from the intake's goals; nothing routine is booked before it.
    async def draft_ready() -> bool:
        return await journey.status("intake", f"/clients/{client}/treatment-plan/draft", clinician) == 200

    await eventually(draft_ready, timeout=20.0)
    draft = (
        await http.get(system.url("intake", f"/clients/{client}/treatment-plan/draft"), headers=clinician)
    ).json()
    assert [g["code"] for g in draft["goals"]] == ["reduce_panic"]
    assert len(await system.records("session-booked", client, expect=1, settle=1.0)) == 1
    written = await http.put(plan_url, json=PLAN, headers=clinician)
    assert written.status_code == 201, written.text
    plan, plan_headers = await journey.one("treatment-plan-updated")
    assert (plan["version"], plan["therapist_id"], plan["status"]) == (1, best, "active")
    assert (plan["session_cadence"], plan["check_in_interval_days"]) == ("biweekly", 1)
    assert plan["goals"] == ["reduce_panic"] and "train" not in str(plan)

    # The client reads and acknowledges it; the therapist sees that.
    current = (await http.get(plan_url, headers=journey.me)).json()
    acknowledged = await http.post(
        f"{plan_url}/acknowledgement", json={"version": current["version"]}, headers=journey.me
    )
    assert acknowledged.status_code == 200, acknowledged.text
    seen = (await http.get(plan_url, headers=clinician)).json()
    assert seen["acknowledged_at"] is not None

    # The series follows the plan's cadence; the first check-in falls due a plan interval later.
    series = await journey.first("session-booked", after=1)
    assert (series["kind"], series["therapist_id"], series["sequence"]) == ("therapy", best, 2)
    due, due_headers = await journey.first_with_headers("check-in-due", timeout=60.0)
    assert (due["therapist_id"], due["client_id"]) == (best, client)
    care = (await http.get(system.url("scheduling", f"/clients/{client}/sessions"), headers=ADMIN)).json()
    assert (care["series"]["cadence"], care["check_ins"]["interval_days"]) == ("biweekly", 1)
    therapy = [s for s in care["sessions"] if s["kind"] == "therapy"]
    assert len(therapy) >= 2 and all(s["therapist_id"] == best for s in therapy)
    gaps = {
        datetime.fromisoformat(b["starts_at"]) - datetime.fromisoformat(a["starts_at"])
        for a, b in pairwise(therapy)
    }
    assert gaps == {timedelta(days=14)}, gaps

    async def check_in_listed() -> bool:
        found = await http.get(system.url("intake", f"/clients/{client}/check-ins"), headers=journey.me)
        return due["check_in_id"] in [c["id"] for c in found.json()]

    await eventually(check_in_listed, timeout=20.0)
    answered = await http.post(
        system.url("intake", f"/check-ins/{due['check_in_id']}/responses"),
        json={
            "phq9": [1, 1, 0, 1, 0, 1, 0, 0, 0],
            "gad7": [1, 1, 1, 0, 1, 0, 1],
            "goal_progress": [{"goal": "reduce_panic", "score": 4}],
        },
        headers=journey.me,
    )
    assert answered.status_code == 200, answered.text
    checked, checked_headers = await journey.one("check-in-completed")
    assert checked["therapist_id"] == best and checked["change"]["gad7_delta"] < 0

    trail = [completed_headers, proposal_headers, accepted_headers, booked_headers, plan_headers]
    assert {h["correlation_id"] for h in [*trail, due_headers, checked_headers]} == {intake_id}


async def test_booking_outside_consent_is_refused_and_picking_a_proposed_slot_is_the_clients_choice(
    system: System, http: httpx.AsyncClient
) -> None:
    journey = Journey(system, http)
    best, *_ = await journey.seed(STRONG, GOOD, FAIR)
    stranger = new_id("stranger")  # published availability, licensed elsewhere, never proposed
    put = await http.put(
        system.url("matching", f"/therapists/{stranger}"), json=profile(a_place()), headers=ADMIN
    )
    assert put.status_code in (200, 201), put.text
    await http.put(
        system.url("scheduling", f"/therapists/{stranger}/availability"),
        json={"timezone": "America/Los_Angeles", "weekly": THERAPIST_WEEK, "min_notice_hours": 0},
        headers=ADMIN,
    )
    await journey.submit_intake()
    proposal, _ = await journey.one("match-proposed")
    chosen = proposal["candidates"][1]["therapist_id"]

    async def first_slot(therapist_id: str) -> str:
        slots = await http.get(
            system.url("scheduling", f"/therapists/{therapist_id}/slots"), headers=journey.me
        )
        assert slots.status_code == 200, slots.text
        return str(slots.json()["slots"][1]["starts_at"])

    sessions = system.url("scheduling", "/sessions")
    outside = {
        "client_id": journey.client_id,
        "therapist_id": stranger,
        "starts_at": await first_slot(stranger),
    }
    refused = await http.post(sessions, json=outside, headers=journey.me)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "therapist_not_proposed"

    picked = {"client_id": journey.client_id, "therapist_id": chosen, "starts_at": await first_slot(chosen)}
    answer = await http.post(sessions, json=picked, headers=journey.me)
    assert answer.status_code == 201, answer.text
    booked, _ = await journey.one("session-booked")
    assert (booked["therapist_id"], booked["booked_by"], booked["kind"]) == (chosen, "client", "introduction")
    accepted, _ = await journey.one("match-accepted", settle=1.0)
    assert (accepted["match_id"], accepted["therapist_id"]) == (proposal["match_id"], chosen)

    async def chosen_sees_the_record() -> bool:
        who = bearer(chosen, Role.clinician)
        return await journey.status("intake", f"/clients/{journey.client_id}/intakes", who) == 200

    await eventually(chosen_sees_the_record, timeout=20.0)
    assert (
        await journey.status("intake", f"/clients/{journey.client_id}/intakes", bearer(best, Role.clinician))
        == 404
    )


async def test_a_missed_introduction_starts_no_care_and_offers_the_client_the_next_slots(
    system: System, http: httpx.AsyncClient
) -> None:
    journey = Journey(system, http)
    (therapist_id,) = await journey.seed(STRONG)
    await journey.submit_intake()
    proposal, _ = await journey.one("match-proposed")
    await journey.accept(proposal["match_id"], therapist_id)
    booked, _ = await journey.one("session-booked")

    await journey.attend(booked, "no_show")
    missed, _ = await journey.one("session-attendance-recorded")
    assert missed["attendance"] == "no_show" and missed["offered_slots"]
    clinician = bearer(therapist_id, Role.clinician)
    plan = await http.put(
        system.url("intake", f"/clients/{journey.client_id}/treatment-plan"), json=PLAN, headers=clinician
    )
    assert plan.status_code == 409, plan.text  # care did not start

    rebook = {
        "client_id": journey.client_id,
        "therapist_id": therapist_id,
        "starts_at": missed["offered_slots"][0],
    }
    answer = await http.post(system.url("scheduling", "/sessions"), json=rebook, headers=journey.me)
    assert answer.status_code == 201, answer.text
    again, _ = await journey.nth("session-booked", 2)
    assert (again["kind"], again["therapist_id"]) == ("introduction", therapist_id)
    assert datetime.fromisoformat(again["starts_at"]) == datetime.fromisoformat(missed["offered_slots"][0])


async def test_a_high_risk_intake_pages_the_on_call_clinician_and_sends_the_client_crisis_resources(
    system: System, http: httpx.AsyncClient
) -> None:
    journey = Journey(system, http, country="GB")
    await journey.seed(STRONG | {"high_acuity": True})

    intake_id, submitted = await journey.submit_intake(
        **HIGH_RISK, timezone="Europe/London", languages=["en"]
    )
    resources = str(submitted["crisis_resources"])
    assert "116 123" in resources and "988" not in resources, "crisis help where the client lives"

    flagged, flagged_headers = await journey.one("risk-flagged", settle=1.0)
    assert (flagged["client_id"], flagged["intake_id"], flagged["risk_level"]) == (
        journey.client_id,
        intake_id,
        "high",
    )
    assert flagged["jurisdiction"] == journey.place
    assert flagged["reasons"] and flagged_headers["correlation_id"] == intake_id
    completed, _ = await journey.one("intake-completed")
    assert completed["risk_level"] == "high"

    on_call = system.rota[0]
    (page,) = await journey.mails(on_call, f"URGENT: risk follow-up needed for client {journey.client_id}")
    (crisis,) = await journey.mails(journey.client_id, "Help is available right now")
    assert "116 123" in str(crisis.get_body(("plain",)))
    assert "GB" in str(page.get_body(("plain",))), "the page names the client's country"
    assert "suicid" not in str(page.get_body(("plain",))).lower()


async def test_a_declined_therapist_is_replaced_by_a_new_proposal_and_loses_the_record(
    system: System, http: httpx.AsyncClient
) -> None:
    journey = Journey(system, http)
    await journey.seed(STRONG, GOOD, FAIR, WEAK, notice_hours=LATER)
    intake_id, _ = await journey.submit_intake()
    proposal, _ = await journey.one("match-proposed")
    declined_id = proposal["candidates"][0]["therapist_id"]
    await journey.accept(proposal["match_id"], declined_id)
    first, _ = await journey.one("session-booked")

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
    assert second["origin"] == "decline"
    cancelled, _ = await journey.one("session-cancelled")
    assert cancelled["session_id"] == first["session_id"]

    gone = bearer(declined_id, Role.clinician)

    async def record_closed() -> bool:
        return await journey.status("intake", f"/clients/{journey.client_id}/intakes", gone) == 404

    await eventually(record_closed, timeout=20.0)
    assert await journey.status("scheduling", f"/clients/{journey.client_id}/sessions", gone) == 404

    nxt = second["candidates"][0]["therapist_id"]
    await journey.accept(second["match_id"], nxt)
    rebooked, rebooked_headers = await journey.nth("session-booked", 2, settle=1.0)
    assert rebooked["therapist_id"] == nxt != declined_id
    assert rebooked["sequence"] == 1 and rebooked_headers["correlation_id"] == intake_id
    await journey.mails(journey.client_id, "We will propose other therapists")
    await journey.mails(journey.client_id, "Your session is cancelled")
    await journey.mails(journey.client_id, "Your introduction session is booked", count=2)


async def test_a_rescheduled_then_cancelled_introduction_reaches_the_client_each_time(
    system: System, http: httpx.AsyncClient
) -> None:
    journey = Journey(system, http)
    (therapist_id,) = await journey.seed(STRONG, notice_hours=LATER)
    intake_id, _ = await journey.submit_intake()
    proposal, _ = await journey.one("match-proposed")
    await journey.accept(proposal["match_id"], therapist_id)
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


async def test_a_switch_of_therapist_proposes_others_and_once_accepted_ends_the_former_therapists_access(
    system: System, http: httpx.AsyncClient
) -> None:
    journey = Journey(system, http)
    await journey.seed(STRONG, GOOD, FAIR)
    client = journey.client_id
    intake_id, _ = await journey.submit_intake()
    first, _ = await journey.one("match-proposed")
    former = first["candidates"][0]["therapist_id"]
    await journey.accept(first["match_id"], former)
    booked, _ = await journey.one("session-booked")
    await journey.attend(booked)
    await journey.one("session-attendance-recorded")
    was_theirs = bearer(former, Role.clinician)

    async def in_care() -> bool:
        plan = await http.get(
            system.url("intake", f"/clients/{client}/treatment-plan/draft"), headers=was_theirs
        )
        return plan.status_code == 200

    await eventually(in_care, timeout=20.0, interval=0.3)

    async def booked_in_matching() -> bool:
        # Each service learns of the booking from session-booked on its own: a switch asked
        # before matching has it declines the open proposal instead (not yet in care there).
        shown = await http.get(system.url("matching", f"/matches/{first['match_id']}"), headers=journey.me)
        return shown.status_code == 200 and shown.json()["status"] == "booked"

    await eventually(booked_in_matching, timeout=20.0, interval=0.3)
    switch = system.url("matching", f"/clients/{client}/switch")
    asked = await http.post(switch, json={"reason": "therapist_switch"}, headers=journey.me)
    assert asked.status_code == 200, asked.text
    offered = asked.json()["proposal"]
    again = await http.post(switch, json={}, headers=journey.me)
    assert again.status_code == 200 and again.json()["proposal"]["match_id"] == offered["match_id"]

    second, second_headers = await journey.nth("match-proposed", 2, settle=1.0)
    assert second["match_id"] == offered["match_id"] != first["match_id"]
    assert second["origin"] == "switch"
    candidates = [c["therapist_id"] for c in second["candidates"]]
    assert candidates and former not in candidates and set(candidates) <= set(journey.therapists)
    assert second_headers["correlation_id"] == intake_id
    # Nothing moves until the client chooses: the former therapist still has the record.
    assert await journey.status("intake", f"/clients/{client}/intakes", was_theirs) == 200

    chosen = candidates[0]
    await journey.accept(second["match_id"], chosen)
    accepted, accepted_headers = await journey.nth("match-accepted", 2)
    assert (accepted["match_id"], accepted["therapist_id"]) == (second["match_id"], chosen)
    moved, moved_headers = await journey.nth("session-booked", 2, settle=1.0)
    assert (moved["therapist_id"], moved["sequence"], moved["kind"]) == (chosen, 1, "introduction")
    assert moved_headers["causation_id"] == accepted_headers["ce_id"]

    # Ended: the former therapist sees nothing of the client in any service.
    async def former_shut_out() -> bool:
        return await journey.status("intake", f"/clients/{client}/intakes", was_theirs) == 404

    await eventually(former_shut_out, timeout=20.0)
    for service, path in (
        ("intake", f"/intakes/{intake_id}"),
        ("intake", f"/clients/{client}/check-ins"),
        ("intake", f"/clients/{client}/treatment-plan/versions"),
        ("intake", f"/clients/{client}/referral"),
        ("scheduling", f"/clients/{client}/sessions"),
        ("scheduling", f"/clients/{client}/calendar.ics"),
        ("matching", f"/clients/{client}/matches"),
    ):
        assert await journey.status(service, path, was_theirs) == 404, (service, path)
    ended_plan = await http.put(
        system.url("intake", f"/clients/{client}/treatment-plan"),
        json={**PLAN, "status": "completed"},
        headers=was_theirs,
    )
    assert ended_plan.status_code == 404, ended_plan.text
    assert await journey.status("intake", f"/clients/{client}/intakes", bearer(chosen, Role.clinician)) == 200

    await journey.mails(client, "You chose your therapist", count=2)
    (to_new,) = await journey.mails(chosen, f"Session booked with client {client}")
    assert has_calendar(to_new)
