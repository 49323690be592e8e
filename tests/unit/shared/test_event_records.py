"""A Kafka record and a Carepath event, both ways (`shared.events.records`, `carepath_events`).

What a platform backend's consumer relies on: a record parses into the envelope and the
validated data; a record that can never be this topic's event is refused with a reason it
can dead-letter under, naming headers and fields but never values; every event points at
its JSON Schema by id (`ce_dataschema`).
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime, timedelta

import pytest

from shared.events import (
    EVENTS,
    Envelope,
    InvalidEvent,
    dead_letter_headers,
    new_event,
    parse_event,
    spec_for,
    to_record,
)
from shared.events.export_schemas import DEFAULT_DIR as SCHEMAS_DIR
from shared.events.models import CheckInDue, SessionBooked
from shared.messaging.dead_letters import DLQ_HEADERS
from tests.support.kafka import check_in_due

STARTS = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)


def session_booked(**overrides: object) -> SessionBooked:
    fields: dict[str, object] = {
        "session_id": "session-1",
        "client_id": "client-7",
        "therapist_id": "therapist-1",
        "starts_at": STARTS,
        "ends_at": STARTS + timedelta(minutes=50),
        "timezone": "Europe/Berlin",
        "format": "video",
        "series_id": "series-1",
        "sequence": 1,
        "join_url": "https://video.example/join/abc",
    }
    return SessionBooked.model_validate(fields | overrides)


def booked_record(**overrides: object) -> tuple[dict[str, str], bytes]:
    record = to_record(new_event(session_booked(**overrides), source="scheduling"))
    return record.headers, record.value


def test_a_record_parses_into_its_envelope_and_validated_data() -> None:
    event = new_event(session_booked(), source="scheduling", correlation_id="journey-1")
    record = to_record(event, topic_prefix="tenant-")

    parsed = parse_event(SessionBooked, record.header_list(), record.value)

    assert (record.topic, record.key) == ("tenant-session-booked", b"client-7")
    assert parsed.data == event.data and parsed.envelope == event.envelope
    assert parsed.spec is spec_for(SessionBooked)
    assert parse_event("session-booked", record.headers, record.value).data == event.data


def test_every_event_points_at_its_committed_schema_by_id() -> None:
    headers = new_event(check_in_due(), source="scheduling").envelope.to_headers()
    assert headers["ce_dataschema"] == "https://schemas.carepath.dev/events/check-in-due.v1.json"
    for spec in EVENTS:
        schema = json.loads((SCHEMAS_DIR / spec.schema_file).read_text())
        assert schema["$id"] == spec.dataschema, spec.name


def test_dataschema_survives_the_round_trip_and_is_optional_for_causes_that_are_not_events() -> None:
    event = new_event(check_in_due(), source="scheduling").envelope
    assert Envelope.from_headers(event.to_headers()).dataschema == event.dataschema

    without = {k: v for k, v in event.to_headers().items() if k != "ce_dataschema"}
    assert Envelope.from_headers(without).dataschema is None
    assert "ce_dataschema" not in Envelope.from_headers(without).to_headers()


@pytest.mark.parametrize(
    ("change", "reason", "names"),
    [
        ({"ce_id": "not-a-uuid"}, "invalid_envelope", "ce_id"),
        ({"ce_specversion": ""}, "invalid_envelope", "ce_specversion"),
        ({"ce_type": "carepath.check-in-due.v1"}, "unexpected_type", "ce_type"),
        ({"ce_type": "carepath.session-booked.v2"}, "unexpected_type", "ce_type"),
        ({"ce_source": "/carepath/intake"}, "unexpected_source", "ce_source"),
    ],
)
def test_headers_that_are_not_this_topics_event_are_refused_with_a_reason(
    change: dict[str, str], reason: str, names: str
) -> None:
    headers, value = booked_record()
    with pytest.raises(InvalidEvent) as refused:
        parse_event(SessionBooked, headers | change, value)
    assert refused.value.reason == reason and names in refused.value.detail
    assert not [
        sent for sent in change.values() if sent and sent in refused.value.detail
    ]  # named, not quoted


def test_data_the_model_refuses_is_invalid_data_described_by_field_paths_never_values() -> None:
    headers, value = booked_record()
    data = json.loads(value) | {"join_url": "http://insecure.example/Jane-Doe", "sequence": 0}

    with pytest.raises(InvalidEvent) as refused:
        parse_event(SessionBooked, headers, json.dumps(data).encode())

    assert refused.value.reason == "invalid_data"
    assert "join_url" in refused.value.detail and "sequence" in refused.value.detail
    assert "Jane-Doe" not in str(refused.value)


@pytest.mark.parametrize("value", [b"", None, b"not json", b"[]"])
def test_a_value_that_is_not_event_data_is_invalid_data(value: bytes | None) -> None:
    headers, _ = booked_record()
    with pytest.raises(InvalidEvent) as refused:
        parse_event(SessionBooked, headers, value)
    assert refused.value.reason == "invalid_data"


def test_header_bytes_that_are_not_utf8_are_an_invalid_envelope() -> None:
    headers, value = booked_record()
    raw = [(name, text.encode()) for name, text in headers.items()] + [("ce_subject", b"\xff\xfe")]
    with pytest.raises(InvalidEvent) as refused:
        parse_event(SessionBooked, raw, value)
    assert refused.value.reason == "invalid_envelope"


def test_asking_for_an_event_carepath_does_not_have_is_the_callers_mistake_not_the_records() -> None:
    headers, value = booked_record()
    with pytest.raises(LookupError):
        parse_event("session-booked.dlq", headers, value)


def test_a_refused_record_gets_the_same_dead_letter_headers_carepaths_consumers_write() -> None:
    headers, value = booked_record()
    with pytest.raises(InvalidEvent) as refused:
        parse_event(CheckInDue, headers, value)

    dead = dead_letter_headers(
        headers,
        refused.value,
        consumer="my-platform",
        topic="session-booked",
        partition=3,
        offset=41,
        now=STARTS,
    )

    assert {name: dead[name] for name in headers} == headers
    written_by_services = {getattr(DLQ_HEADERS, field.name) for field in fields(DLQ_HEADERS)}
    assert {name for name in dead if name.startswith("dlq_")} == written_by_services
    assert dead["dlq_reason"] == "unexpected_type" and dead["dlq_consumer"] == "my-platform"
    assert (dead["dlq_original_topic"], dead["dlq_original_partition"], dead["dlq_original_offset"]) == (
        "session-booked",
        "3",
        "41",
    )
    assert dead["dlq_failed_at"] == STARTS.isoformat()
