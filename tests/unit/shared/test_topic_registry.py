"""The topic registry matches DESIGN §3, and the committed JSON Schemas are current."""

from __future__ import annotations

from shared.events import export_schemas
from shared.events.registry import EVENTS, all_topics, spec_named

DESIGN_TOPICS = {
    "intake-completed",
    "risk-flagged",
    "match-proposed",
    "match-accepted",
    "match-declined",
    "session-booked",
    "session-rescheduled",
    "session-cancelled",
    "booking-failed",
    "check-in-due",
    "check-in-completed",
    "therapist-availability-changed",
}


def test_every_design_topic_is_registered_with_its_dead_letter_topic() -> None:
    topics = set(all_topics())
    assert topics >= DESIGN_TOPICS
    assert {f"{t}.dlq" for t in DESIGN_TOPICS} <= topics


def test_client_events_are_keyed_by_client_and_therapist_events_by_therapist() -> None:
    assert spec_named("therapist-availability-changed").key_field == "therapist_id"
    for name in DESIGN_TOPICS - {"therapist-availability-changed"}:
        assert spec_named(name).key_field == "client_id", name
        assert "client_id" in spec_named(name).model.model_fields


def test_cloudevents_type_names_the_event_and_its_major_version() -> None:
    assert {spec.type for spec in EVENTS} >= {f"carepath.{t}.v1" for t in DESIGN_TOPICS}


def test_committed_json_schemas_are_up_to_date() -> None:
    assert export_schemas.main(["--check"]) == 0, "run `make schemas` and commit the result"
