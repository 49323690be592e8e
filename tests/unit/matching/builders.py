"""Test data for matching: therapist profiles, intakes, events, and `MatchingContext` on in-memory fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.matching.context import MatchingContext, Policy
from services.matching.domain.needs import ClientNeeds
from services.matching.domain.profile import TherapistProfile
from services.matching.domain.therapist import Availability, Hold, Therapist
from services.matching.store.read_model import Directory
from services.matching.store.therapists import therapist_from_document
from shared.events.common import OutcomeChange
from shared.events.envelope import Envelope, OutgoingEvent, new_event
from shared.events.models import (
    BookingFailed,
    CheckInCompleted,
    IntakeCompleted,
    SessionAttendanceRecorded,
    SessionBooked,
    SessionCancelled,
    TherapistAvailabilityChanged,
)
from tests.support.fakes import InMemoryDocuments, InMemoryTimers, ManualClock

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday

WEEKDAY_EVENINGS = [{"day": d, "start": "17:00", "end": "21:00"} for d in ("mon", "tue", "wed", "thu", "fri")]


def profile(**overrides: Any) -> TherapistProfile:
    """A therapist in California who fits a typical anxious, mildly depressed client."""
    fields: dict[str, Any] = {
        "gender": "female",
        "languages": ["en"],
        "licensed_jurisdictions": ["US-CA"],
        "credentials": ["lmft"],
        "specialties": [{"concern": "anxiety", "years": 6}, {"concern": "depression", "years": 4}],
        "approaches": ["cbt"],
        "competencies": [],
        "communication_style": "direct",
        "formats": ["video"],
        "in_person_regions": [],
        "price_per_session": 120,
        "insurers": ["aetna"],
        "accepting_new_clients": True,
        "capacity": 10,
        "high_acuity": False,
        "timezone": "America/Los_Angeles",
    }
    return TherapistProfile.model_validate(fields | overrides)


def intake(**overrides: Any) -> IntakeCompleted:
    preferences = overrides.pop("preferences", {})
    fields: dict[str, Any] = {
        "intake_id": "intake-1",
        "client_id": "client-1",
        "submitted_at": NOW.isoformat(),
        "jurisdiction": "US-CA",
        "timezone": "America/Los_Angeles",
        "languages": ["en"],
        "concerns": ["anxiety", "depression"],
        "goals": [],
        "phq9": {"total": 8, "severity": "mild", "item9": 0},
        "gad7": {"total": 12, "severity": "moderate"},
        "risk_level": "none",
        "preferences": {"format": "video"} | preferences,
        "availability": WEEKDAY_EVENINGS,
    }
    return IntakeCompleted.model_validate(fields | overrides)


def needs(**overrides: Any) -> ClientNeeds:
    return ClientNeeds.from_intake(intake(**overrides))


def therapist(therapist_id: str = "t-1", *, revision: int = 1, **overrides: Any) -> Therapist:
    """A ranking view, built the way the store builds it from a document."""
    caseload = overrides.pop("caseload", [])
    holds = overrides.pop("holds", [])
    availability = overrides.pop("availability", None)
    document: dict[str, Any] = {
        "_id": therapist_id,
        "profile": profile(**overrides).model_dump(mode="json"),
        "caseload": [{"client_id": c, "match_id": None, "since": NOW} for c in caseload],
        "holds": [
            {"match_id": h.match_id, "client_id": h.client_id, "expires_at": h.expires_at}
            if isinstance(h, Hold)
            else h
            for h in holds
        ],
        "availability": availability,
        "revision": revision,
    }
    built = therapist_from_document(document)
    assert built is not None
    return built


def availability(
    timezone: str = "America/Los_Angeles", weekly: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {
        "timezone": timezone,
        "weekly": WEEKDAY_EVENINGS if weekly is None else weekly,
        "accepting_new_clients": True,
        "open_slots_next_14_days": 5,
        "changed_at": NOW,
    }


def as_availability(stored: dict[str, Any]) -> Availability:
    return Availability(
        stored["timezone"], tuple((w["day"], w["start"], w["end"]) for w in stored["weekly"]), True
    )


def hold(match_id: str, *, client_id: str = "someone", minutes: int = 60) -> Hold:
    return Hold(match_id, client_id, NOW + timedelta(minutes=minutes))


def envelope_of(event: OutgoingEvent) -> Envelope:
    return event.envelope


def delivered(data: Any) -> tuple[Any, Envelope]:
    """An event as a handler receives it: its data and its envelope."""
    outgoing = new_event(data, source="tests", now=NOW)
    return data, outgoing.envelope


def session_booked(
    therapist_id: str,
    *,
    client_id: str = "client-1",
    match_id: str | None = None,
    sequence: int = 1,
    booked_by: str | None = None,
    kind: str | None = None,
) -> SessionBooked:
    """A booked session; `booked_by="client"` with `kind="introduction"` is the client's own choice."""
    return SessionBooked.model_validate(
        {
            "session_id": f"s-{client_id}-{sequence}",
            "client_id": client_id,
            "therapist_id": therapist_id,
            "starts_at": NOW + timedelta(days=2),
            "ends_at": NOW + timedelta(days=2, minutes=50),
            "timezone": "America/Los_Angeles",
            "format": "video",
            "series_id": f"series-{client_id}",
            "sequence": sequence,
            "join_url": "https://meet.example/abc",
            "match_id": match_id,
            "booked_by": booked_by,
            "kind": kind,
        }
    )


def attended(
    therapist_id: str,
    *,
    client_id: str = "client-1",
    match_id: str | None = None,
    attendance: str = "held",
) -> SessionAttendanceRecorded:
    """The therapist recorded the client's introduction as held (care starts) or a no-show."""
    return SessionAttendanceRecorded.model_validate(
        {
            "session_id": f"s-{client_id}-1",
            "client_id": client_id,
            "therapist_id": therapist_id,
            "series_id": f"series-{client_id}",
            "sequence": 1,
            "kind": "introduction",
            "attendance": attendance,
            "starts_at": NOW + timedelta(days=2),
            "recorded_at": NOW + timedelta(days=2, hours=1),
            "recorded_by": "clinician",
            "match_id": match_id,
        }
    )


def session_cancelled(
    therapist_id: str, *, client_id: str = "client-1", sequence: int = 1
) -> SessionCancelled:
    return SessionCancelled(
        session_id=f"s-{client_id}-{sequence}",
        client_id=client_id,
        therapist_id=therapist_id,
        series_id=f"series-{client_id}",
        sequence=sequence,
        starts_at=NOW + timedelta(days=2),
        cancelled_at=NOW,
        status="cancelled",
        cancelled_by="client",
    )


def booking_failed(
    match_id: str, *, client_id: str = "client-1", tried: list[str] | None = None
) -> BookingFailed:
    return BookingFailed(
        match_id=match_id,
        client_id=client_id,
        reason="no_slot_in_availability",
        tried_therapist_ids=tried or [],
        failed_at=NOW,
    )


def check_in(
    therapist_id: str,
    *,
    client_id: str,
    improved: bool = False,
    deteriorated: bool = False,
    concerns: list[str] | None = None,
    at: datetime = NOW,
) -> CheckInCompleted:
    return CheckInCompleted.model_validate(
        {
            "check_in_id": f"ci-{client_id}-{therapist_id}-{int(at.timestamp())}",
            "client_id": client_id,
            "therapist_id": therapist_id,
            "completed_at": at,
            "phq9": {
                "total": 4 if improved else 14,
                "severity": "minimal" if improved else "moderate",
                "item9": 0,
            },
            "gad7": {"total": 4, "severity": "minimal"},
            "concerns": concerns if concerns is not None else ["anxiety", "depression"],
            "change": OutcomeChange(
                phq9_delta=-8 if improved else (7 if deteriorated else 0),
                gad7_delta=-5 if improved else (5 if deteriorated else 0),
                reliable_improvement=improved,
                reliable_deterioration=deteriorated,
                response=improved,
                remission=improved,
            ),
        }
    )


def availability_changed(
    therapist_id: str,
    *,
    weekly: list[dict[str, str]] | None = None,
    timezone: str = "America/Los_Angeles",
    changed_at: datetime = NOW,
) -> TherapistAvailabilityChanged:
    return TherapistAvailabilityChanged.model_validate(
        {
            "therapist_id": therapist_id,
            "timezone": timezone,
            "weekly": WEEKDAY_EVENINGS if weekly is None else weekly,
            "accepting_new_clients": True,
            "open_slots_next_14_days": 5,
            "changed_at": changed_at,
        }
    )


class Fakes:
    """`MatchingContext` on in-memory stores, a manual clock and fake timers; events written in `.events`."""

    def __init__(self, **policy: Any) -> None:
        self.clock = ManualClock(NOW)
        self.therapists = InMemoryDocuments("therapists")
        self.proposals = InMemoryDocuments("proposals")
        self.clients = InMemoryDocuments("clients")
        self.outcomes = InMemoryDocuments("outcomes")
        self.journal = InMemoryDocuments("directory")
        self.waitlist = InMemoryDocuments("waitlist")
        self.timers = InMemoryTimers()
        self.matching = self.replica("replica-1", **policy)

    def replica(self, instance: str, **policy: Any) -> MatchingContext:
        """Another replica over the same stores, with its own in-process directory."""
        return MatchingContext(
            therapists=self.therapists,
            proposals=self.proposals,
            clients=self.clients,
            outcomes=self.outcomes,
            waitlist=self.waitlist,
            directory=Directory(
                self.therapists, self.outcomes, self.journal, instance=instance, clock=self.clock
            ),
            timers=self.timers,
            clock=self.clock,
            policy=Policy(**policy),
        )

    @property
    def events(self) -> list[OutgoingEvent]:
        return [*self.proposals.events, *self.clients.events]

    def published(self, name: str) -> list[Any]:
        return [e.data for e in self.events if e.spec.name == name]
