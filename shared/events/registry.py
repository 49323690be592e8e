"""The topic registry: which event lives on which topic, under which type, key and schema.

One place answers "what is the topic, CloudEvents type, record key and JSON Schema of this
event, who produces it and who consumes it?" for producers (outbox relay), consumers
(schema validation, dead letters), the topic creation step, the schema export and the
system-wide AsyncAPI document.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from . import models

DEFAULT_PARTITIONS = 6

SCHEMA_BASE_URL = "https://schemas.carepath.dev/events/"
"""Where event schemas' ids live: `$id` of each JSON Schema and `ce_dataschema` of each event.

An identifier, not a promise that the URL resolves: the schemas ship in `carepath-events`
(`carepath_events/schemas/`) and in this repository (`shared/events/schemas/`).
"""


@dataclass(frozen=True, slots=True)
class EventSpec:
    """How one event type travels: topic name, major version, data model and key field.

    `producer` is the one service allowed to publish it (its `ce_source` is
    `/carepath/<producer>`; consumers dead-letter any other as `unexpected_source`);
    `consumers` are the services subscribed to it, kept equal to the services' own
    subscription lists by a test.
    """

    name: str
    model: type[BaseModel]
    producer: str
    key_field: str = "client_id"
    version: int = 1
    consumers: tuple[str, ...] = ()

    @property
    def type(self) -> str:
        """The CloudEvents `type` attribute, e.g. `carepath.intake-completed.v1`."""
        return f"carepath.{self.name}.v{self.version}"

    @property
    def topic(self) -> str:
        return self.name

    @property
    def source(self) -> str:
        """The CloudEvents `source` of this event: the producing service."""
        return f"/carepath/{self.producer}"

    @property
    def schema_file(self) -> str:
        """The JSON Schema's file name, e.g. `session-booked.v1.json`."""
        return f"{self.name}.v{self.version}.json"

    @property
    def dataschema(self) -> str:
        """The JSON Schema's `$id`, carried by every event as `ce_dataschema`."""
        return f"{SCHEMA_BASE_URL}{self.schema_file}"

    @property
    def dead_letter_topic(self) -> str:
        return dead_letter_topic(self.name)

    def key_of(self, data: BaseModel) -> str:
        """The record key: the client (or therapist) id, so one subject's events keep order."""
        return str(getattr(data, self.key_field))


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


INTAKE, MATCHING, SCHEDULING, NOTIFICATIONS = "intake", "matching", "scheduling", "notifications"

EVENTS: tuple[EventSpec, ...] = (
    EventSpec("intake-completed", models.IntakeCompleted, INTAKE, consumers=(MATCHING, NOTIFICATIONS)),
    EventSpec("risk-flagged", models.RiskFlagged, INTAKE, consumers=(NOTIFICATIONS,)),
    EventSpec("check-in-completed", models.CheckInCompleted, INTAKE, consumers=(MATCHING, NOTIFICATIONS)),
    EventSpec(
        "treatment-plan-updated",
        models.TreatmentPlanUpdated,
        INTAKE,
        consumers=(MATCHING, NOTIFICATIONS, SCHEDULING),
    ),
    EventSpec("check-in-missed", models.CheckInMissed, INTAKE, consumers=(NOTIFICATIONS,)),
    EventSpec(
        "match-proposed", models.MatchProposed, MATCHING, consumers=(INTAKE, NOTIFICATIONS, SCHEDULING)
    ),
    EventSpec(
        "match-accepted", models.MatchAccepted, MATCHING, consumers=(INTAKE, NOTIFICATIONS, SCHEDULING)
    ),
    EventSpec(
        "match-declined", models.MatchDeclined, MATCHING, consumers=(INTAKE, NOTIFICATIONS, SCHEDULING)
    ),
    EventSpec(
        "session-booked", models.SessionBooked, SCHEDULING, consumers=(INTAKE, MATCHING, NOTIFICATIONS)
    ),
    EventSpec("session-rescheduled", models.SessionRescheduled, SCHEDULING, consumers=(NOTIFICATIONS,)),
    EventSpec("session-cancelled", models.SessionCancelled, SCHEDULING, consumers=(MATCHING, NOTIFICATIONS)),
    EventSpec(
        "session-attendance-recorded",
        models.SessionAttendanceRecorded,
        SCHEDULING,
        consumers=(INTAKE, MATCHING, NOTIFICATIONS),
    ),
    EventSpec("booking-failed", models.BookingFailed, SCHEDULING, consumers=(MATCHING, NOTIFICATIONS)),
    EventSpec("check-in-due", models.CheckInDue, SCHEDULING, consumers=(INTAKE, NOTIFICATIONS)),
    EventSpec(
        "therapist-availability-changed",
        models.TherapistAvailabilityChanged,
        SCHEDULING,
        key_field="therapist_id",
        consumers=(MATCHING,),
    ),
    EventSpec("notification-delivered", models.NotificationDelivered, NOTIFICATIONS, "recipient_id"),
    EventSpec("notification-failed", models.NotificationFailed, NOTIFICATIONS, "recipient_id"),
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
