"""The CloudEvents envelope in Kafka binary mode, and journey correlation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.events.envelope import Envelope, EnvelopeError, new_event
from tests.support.kafka import check_in_due


def test_headers_round_trip_every_cloudevents_attribute() -> None:
    outgoing = new_event(check_in_due("client-7"), source="scheduling")
    headers = outgoing.envelope.to_headers()

    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == "carepath.check-in-due.v1"
    assert headers["ce_source"] == "/carepath/scheduling"
    assert headers["ce_subject"] == "client-7"
    assert headers["content-type"] == "application/json"
    assert headers["ce_time"].endswith("Z")
    assert Envelope.from_headers(headers) == outgoing.envelope


def test_event_caused_by_another_carries_the_journey_and_points_at_its_cause() -> None:
    cause = new_event(check_in_due(), source="scheduling", correlation_id="journey-1").envelope
    effect = new_event(check_in_due(), source="intake", cause=cause).envelope

    assert effect.correlation_id == "journey-1"
    assert effect.causation_id == cause.id
    assert Envelope.from_headers(effect.to_headers()).causation_id == cause.id


def test_handling_the_same_cause_twice_produces_the_same_event_id() -> None:
    cause = new_event(check_in_due(), source="scheduling").envelope
    first = new_event(check_in_due(), source="intake", cause=cause)
    again = new_event(check_in_due(), source="intake", cause=cause)
    other = new_event(check_in_due(), source="intake", cause=cause, discriminator="reminder-1h")

    assert first.envelope.id == again.envelope.id
    assert other.envelope.id != first.envelope.id


def test_event_without_cause_starts_its_own_journey() -> None:
    envelope = new_event(check_in_due(), source="intake").envelope
    assert envelope.correlation_id == envelope.id and envelope.causation_id is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ce_id": ""}, r"missing CloudEvents header\(s\): ce_id"),
        ({"ce_specversion": "0.3"}, "unsupported ce_specversion"),
        ({"ce_id": "not-a-uuid"}, "ce_id is not a UUID"),
        ({"ce_time": "yesterday"}, "ce_time is not an RFC 3339 timestamp"),
        ({"ce_time": "2026-11-26T10:00:00"}, "ce_time has no UTC offset"),
    ],
)
def test_malformed_headers_are_refused_naming_the_problem(change: dict[str, str], message: str) -> None:
    headers = new_event(check_in_due(), source="intake").envelope.to_headers() | change
    with pytest.raises(EnvelopeError, match=message):
        Envelope.from_headers(headers)


def test_record_value_is_the_event_data_as_json() -> None:
    data = check_in_due(check_in_id="ci-42")
    outgoing = new_event(data, source="scheduling", now=datetime(2026, 11, 26, tzinfo=UTC))
    assert outgoing.value() == data.model_dump_json().encode()
    assert outgoing.key == data.client_id
