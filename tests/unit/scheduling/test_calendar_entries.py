"""A therapist's calendar stores each session compact and reads it back whole.

Every booking with a therapist reads and rewrites their calendar document, so what each entry
costs is paid on every booking: empty fields, the therapist's id and a busy span that is the
session's own are left out, and filled back on reading.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import bson

from services.scheduling.domain.cancellation import SessionStatus
from services.scheduling.domain.care import Attendance, Care, Session, SessionKind
from services.scheduling.store import therapist_sessions
from services.scheduling.store.care_documents import session_to_document
from tests.support.fakes import InMemoryDocuments
from tests.unit.scheduling.support import introduction_at

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
STARTS = NOW + timedelta(days=2)

BOOKED = introduction_at(
    STARTS,
    session_id="ses-1",
    timezone="America/Los_Angeles",
    therapist_timezone="America/Los_Angeles",
    join_url="https://video.example/room/abc",
    claims=("t-1/2026-03-04T12:00", "t-1/2026-03-04T12:05"),
    match_id="m-1",
    booked_at=NOW,
    updated_at=NOW,
    booked_by="system",
)
EVERYTHING_SET = replace(
    BOOKED,
    session_id="ses-2",
    sequence=2,
    kind=SessionKind.therapy,
    busy_from=STARTS - timedelta(minutes=10),  # a buffer before: its own busy span
    busy_to=STARTS + timedelta(minutes=60),
    therapist_timezone="Europe/Berlin",  # not the client's
    updated_at=NOW + timedelta(hours=1),  # changed since booked
    status=SessionStatus.cancelled,
    revision=3,
    target=STARTS,
    cancelled_by="therapist",
    cancel_reason="ill",
    override_reason="admin booked it",
    attendance=Attendance.held,
    attendance_recorded_at=NOW,
    attendance_recorded_by="t-1",
    offered_slots=(STARTS + timedelta(days=7),),
)


async def stored_calendar(*sessions: Session) -> tuple[InMemoryDocuments, list[dict[str, object]]]:
    calendar = InMemoryDocuments("therapist_sessions")
    care = Care(client_id="c-1", sessions=tuple(sessions))
    await therapist_sessions.sync(calendar, care, ["t-1"], now=NOW)
    document = await calendar.get("t-1")
    assert document is not None
    return calendar, list(document["sessions"])


async def test_a_booked_session_is_stored_without_its_empty_fields_its_therapist_or_its_own_span() -> None:
    _, [entry] = await stored_calendar(BOOKED)

    left_out = {"therapist_id", "claims", "busy_from", "busy_to", "revision", "offered_slots", "target"}
    left_out |= {"cancelled_by", "cancel_reason", "override_reason", "attendance", "therapist_timezone"}
    left_out |= {"updated_at"}  # the booking's own time
    assert not left_out & entry.keys()
    full = {k: v for k, v in session_to_document(BOOKED).items() if k != "claims"}
    assert len(bson.encode(entry)) < 0.7 * len(bson.encode(full))


async def test_every_session_reads_back_as_it_was_but_for_the_claims_the_client_document_keeps() -> None:
    calendar, _ = await stored_calendar(BOOKED, EVERYTHING_SET)

    read = await therapist_sessions.sessions_of(calendar, "t-1")

    assert read == [replace(BOOKED, claims=()), replace(EVERYTHING_SET, claims=())]


async def test_an_entry_stored_in_full_before_reads_the_same_and_is_compacted_when_rewritten() -> None:
    calendar = InMemoryDocuments("therapist_sessions")
    full = {k: v for k, v in session_to_document(BOOKED).items() if k != "claims"}
    await calendar.insert({"_id": "t-1", "therapist_id": "t-1", "sessions": [full]})

    assert await therapist_sessions.sessions_of(calendar, "t-1") == [replace(BOOKED, claims=())]

    other = introduction_at(STARTS + timedelta(hours=3), session_id="ses-9", client_id="c-9")
    await therapist_sessions.sync(calendar, Care(client_id="c-9", sessions=(other,)), ["t-1"], now=NOW)
    document = await calendar.get("t-1")
    assert document is not None
    assert all("therapist_id" not in e and "busy_from" not in e for e in document["sessions"])
    assert await therapist_sessions.sessions_of(calendar, "t-1") == [
        replace(BOOKED, claims=()),
        replace(other, claims=()),
    ]


async def test_a_calendar_already_showing_the_client_as_they_are_is_not_rewritten() -> None:
    calendar, _ = await stored_calendar(BOOKED)
    before = await calendar.get("t-1")

    await therapist_sessions.sync(calendar, Care(client_id="c-1", sessions=(BOOKED,)), ["t-1"], now=NOW)

    assert await calendar.get("t-1") == before
