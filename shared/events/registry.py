"""The topic registry: which event lives on which topic, under which type and key.

One place answers "what is the topic, CloudEvents type and record key of this event?"
for producers (outbox relay), consumers (schema validation, dead letters), the topic
creation step and the schema export.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from shared.events import models

DEFAULT_PARTITIONS = 6


@dataclass(frozen=True, slots=True)
class EventSpec:
    """How one event type travels: topic name, major version, data model and key field."""

    name: str
    model: type[BaseModel]
    producer: str
    key_field: str = "client_id"
    version: int = 1

    @property
    def type(self) -> str:
        """The CloudEvents `type` attribute, e.g. `carepath.intake-completed.v1`."""
        return f"carepath.{self.name}.v{self.version}"

    @property
    def topic(self) -> str:
        return self.name

    @property
    def dead_letter_topic(self) -> str:
        return dead_letter_topic(self.name)

    def key_of(self, data: BaseModel) -> str:
        """The record key: the client (or therapist) id, so one subject's events keep order."""
        return str(getattr(data, self.key_field))


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


EVENTS: tuple[EventSpec, ...] = (
    EventSpec("intake-completed", models.IntakeCompleted, "intake"),
    EventSpec("risk-flagged", models.RiskFlagged, "intake"),
    EventSpec("check-in-completed", models.CheckInCompleted, "intake"),
    EventSpec("treatment-plan-updated", models.TreatmentPlanUpdated, "intake"),
    EventSpec("check-in-missed", models.CheckInMissed, "intake"),
    EventSpec("match-proposed", models.MatchProposed, "matching"),
    EventSpec("match-accepted", models.MatchAccepted, "matching"),
    EventSpec("match-declined", models.MatchDeclined, "matching"),
    EventSpec("session-booked", models.SessionBooked, "scheduling"),
    EventSpec("session-rescheduled", models.SessionRescheduled, "scheduling"),
    EventSpec("session-cancelled", models.SessionCancelled, "scheduling"),
    EventSpec("session-attendance-recorded", models.SessionAttendanceRecorded, "scheduling"),
    EventSpec("booking-failed", models.BookingFailed, "scheduling"),
    EventSpec("check-in-due", models.CheckInDue, "scheduling"),
    EventSpec(
        "therapist-availability-changed",
        models.TherapistAvailabilityChanged,
        "scheduling",
        key_field="therapist_id",
    ),
    EventSpec("notification-delivered", models.NotificationDelivered, "notifications", "recipient_id"),
    EventSpec("notification-failed", models.NotificationFailed, "notifications", "recipient_id"),
)

_BY_NAME = {spec.name: spec for spec in EVENTS}
_BY_MODEL = {spec.model: spec for spec in EVENTS}


def spec_named(name: str) -> EventSpec:
    return _BY_NAME[name]


def spec_for(model: type[BaseModel]) -> EventSpec:
    return _BY_MODEL[model]


def all_topics(*, include_dead_letters: bool = True) -> list[str]:
    """Every topic the system uses, for topic creation (compose, Kubernetes, local)."""
    names = [spec.name for spec in EVENTS]
    if include_dead_letters:
        names += [spec.dead_letter_topic for spec in EVENTS]
    return names
