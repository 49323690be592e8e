"""What a fault scenario counts once its stream settled: every effect exactly once, nothing lost.

Effects are counted by identity, not by record: a record read twice with the same event id
is at-least-once delivery ("redelivered records", harmless by design), two different event
ids or session ids for one client's introduction would be a duplicate effect. E-mails are
counted by Message-ID, which notifications derives from the delivery: the SMTP server
receiving one Message-ID twice (a resend after a kill between sending and recording) is a
"raw resend" a mail system recognises and drops; two Message-IDs for one e-mail would be a
duplicate.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from tests.e2e.faults.load import Stream
from tests.e2e.journey.system import ADMIN, System, headers_of, value_of
from tests.e2e.journey.test_journey import email_of

CLIENT_SUBJECT = "Your introduction session is booked"


def therapist_subject(client_id: str) -> str:
    return f"Session booked with client {client_id}"


@dataclass
class Audit:
    """The scenario's figures; `problems` lists every broken promise (empty when all held)."""

    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    settle_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "problems": self.problems[:50], "settle_seconds": self.settle_seconds}


class Ledger:
    """What the recorder read and the SMTP sink received, indexed as it arrives.

    Each refresh reads only what is new, so the scenario can ask "is everything there?"
    every half second of a long stream without re-parsing thousands of records and mails.
    The suite's own poison records (keys starting `poison-`) are left out.
    """

    def __init__(self, system: System) -> None:
        self.system = system
        self._records = 0
        self._mails = 0
        self.completed: set[str] = set()
        # client -> event id -> the introduction records read with that id
        self.sessions: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        self.mail_ids: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.message_ids: Counter[str] = Counter()

    def refresh(self) -> Ledger:
        assert self.system.recorder is not None
        records = self.system.recorder.records
        completed = self.system.kafka.topic("intake-completed")
        booked = self.system.kafka.topic("session-booked")
        while self._records < len(records):
            record = records[self._records]
            self._records += 1
            if record.topic not in (completed, booked) or (record.key or b"").startswith(b"poison-"):
                continue
            value = value_of(record)
            if record.topic == completed:
                self.completed.add(value["client_id"])
            elif value.get("sequence") == 1:
                self.sessions[value["client_id"]][headers_of(record)["ce_id"]].append(value)
        messages = self.system.mail.messages
        while self._mails < len(messages):
            message = messages[self._mails]
            self._mails += 1
            message_id = str(message["Message-ID"])
            self.message_ids[message_id] += 1
            for address in str(message["To"]).split(","):
                self.mail_ids[(address.strip(), str(message["Subject"]))].append(message_id)
        return self

    def mails_of(self, recipient: str, subject: str) -> list[str]:
        return self.mail_ids.get((email_of(recipient), subject), [])

    def therapist_of(self, client: str) -> str | None:
        booked = self.sessions.get(client)
        return next(iter(booked.values()))[0]["therapist_id"] if booked else None

    def settled(self, clients: list[str]) -> bool:
        for client in clients:
            therapist = self.therapist_of(client)
            if therapist is None or not self.mails_of(client, CLIENT_SUBJECT):
                return False
            if not self.mails_of(therapist, therapist_subject(client)):
                return False
        return True


async def wait_until_settled(
    system: System, stream: Stream, timeout: float = 900.0, settle: float = 8.0
) -> float:
    """Wait until every submitted client is booked and both e-mails arrived; then `settle` more.

    Returns the seconds from the stream's last submission until then. Does not fail on
    timeout: whatever is missing then is counted as lost by `audit`.
    """
    deadline = time.monotonic() + timeout
    ledger = Ledger(system)
    while time.monotonic() < deadline and not ledger.refresh().settled(list(stream.submitted)):
        await asyncio.sleep(0.5)
    settled = time.time() - max(stream.submitted.values(), default=time.time())
    await asyncio.sleep(settle)
    return settled


async def _gather_limited(calls: list[Any], limit: int = 6) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Any) -> Any:
        async with gate:
            return await call

    return await asyncio.gather(*(one(c) for c in calls))


async def audit(system: System, stream: Stream, http: httpx.AsyncClient) -> Audit:
    """Count intakes, bookings and e-mails by identity; list every duplicate and loss."""
    ledger = Ledger(system).refresh()
    result = Audit(problems=list(stream.failures))
    clients = list(stream.submitted)
    booked = duplicates = redelivered = 0
    slots: dict[tuple[str, str], set[str]] = defaultdict(set)
    for client in clients:
        by_event = ledger.sessions.get(client, {})
        if not by_event:
            result.problems.append(f"{client}: no introduction booked")
            continue
        booked += 1
        redelivered += sum(len(records) - 1 for records in by_event.values())
        session_ids = {records[0]["session_id"] for records in by_event.values()}
        if len(by_event) > 1 or len(session_ids) > 1:
            duplicates += 1
            result.problems.append(f"{client}: {len(by_event)} introduction events, sessions {session_ids}")
        for records in by_event.values():
            slots[(records[0]["therapist_id"], records[0]["starts_at"])].add(records[0]["session_id"])
    double_booked = [slot for slot, ids in slots.items() if len(ids) > 1]
    result.problems += [f"therapist {t} double-booked at {s}" for t, s in double_booked]

    # Scheduling's own record: one session per client, and no therapist's sessions overlap.
    answers = await _gather_limited(
        [http.get(system.url("scheduling", f"/clients/{c}/sessions"), headers=ADMIN) for c in clients]
    )
    api_duplicates = 0
    for client, answer in zip(clients, answers, strict=True):
        listed = answer.json().get("sessions", []) if answer.status_code == 200 else []
        ids = [s["session_id"] for s in listed]
        if len(ids) != 1:
            api_duplicates += len(ids) > 1
            result.problems.append(f"{client}: scheduling lists sessions {ids} ({answer.status_code})")
    therapists = sorted({t for c in clients if (t := ledger.therapist_of(c)) is not None})
    answers = await _gather_limited(
        [http.get(system.url("scheduling", f"/therapists/{t}/sessions"), headers=ADMIN) for t in therapists]
    )
    overlaps = 0
    for therapist, answer in zip(therapists, answers, strict=True):
        spans = sorted(
            (datetime.fromisoformat(s["starts_at"]), datetime.fromisoformat(s["ends_at"]))
            for s in answer.json()["sessions"]
            if s.get("status") != "cancelled"
        )
        for (_, end), (start, _) in itertools.pairwise(spans):
            if start < end:
                overlaps += 1
                result.problems.append(f"therapist {therapist} has overlapping sessions at {start}")

    # E-mails: each expected one by distinct Message-ID, exactly once.
    sent = mail_duplicates = mail_lost = raw_resends = 0
    for client in clients:
        booked_with = ledger.therapist_of(client)
        expected = [(client, CLIENT_SUBJECT), (booked_with, therapist_subject(client))]
        for recipient, subject in expected:
            ids = ledger.mails_of(recipient, subject) if recipient is not None else []
            distinct = set(ids)
            raw_resends += len(ids) - len(distinct)
            sent += len(distinct)
            if not distinct:
                mail_lost += 1
                result.problems.append(f"no {subject!r} to {recipient or 'the therapist'}")
            if len(distinct) > 1:
                mail_duplicates += len(distinct) - 1
                result.problems.append(f"{len(distinct)} different {subject!r} e-mails to {recipient}")
    result.counts = {
        "intakes_sent": len(clients),
        "intakes_completed": len(ledger.completed & set(clients)),
        "first_sessions_booked": booked,
        "emails_expected": 2 * len(clients),
        "emails_sent": sent,
        "duplicates": duplicates + api_duplicates + len(double_booked) + overlaps + mail_duplicates,
        "lost": (len(clients) - booked) + mail_lost,
        "redelivered_records": redelivered,
        "raw_smtp_resends": raw_resends,
        "smtp_messages_total": sum(ledger.message_ids.values()),
        "smtp_message_ids_received_twice": sum(1 for n in ledger.message_ids.values() if n > 1),
        "send_failures": len(stream.failures),
    }
    return result
