"""`dlq_error` names the error's type and the fields or headers at fault, never a value or an error's text."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from shared.events import EnvelopeError, InvalidEvent, dead_letter_headers, new_event, parse_event
from shared.events.models import CheckInDue
from shared.events.records import describe_error, validation_error_paths
from shared.messaging.dead_letters import DLQ_HEADERS, DeadLetters, dead_letter_error
from shared.refusals import Conflict, FieldProblem, Invalid
from tests.support.kafka import check_in_due

SECRET = "Jane Doe, panic attacks since 2019"


class Payload(BaseModel):
    client_id: str
    score: int
    factors: dict[str, float]


def refused(data: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as error:
        Payload.model_validate(data)
    return error.value


class RecordingBroker:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish(self, value: bytes, **options: Any) -> None:
        self.published.append({"value": value, **options})


def test_a_validation_error_is_named_by_its_field_paths_only() -> None:
    error = refused({"client_id": 7, "score": SECRET, "factors": {}})

    assert dead_letter_error(error) == "ValidationError: client_id, score"


def test_a_mapping_key_the_sender_wrote_is_not_repeated_as_a_path() -> None:
    error = refused({"client_id": "c-1", "score": 1, "factors": {"Jane Doe": "high"}})

    assert validation_error_paths(error) == ["factors.*"]


@pytest.mark.parametrize(
    "error",
    [
        ValueError(f"cannot book {SECRET}"),
        KeyError(SECRET),
        RuntimeError(f"{SECRET!r} is not a therapist"),
        ConnectionError(f"smtp refused <{SECRET}>"),
    ],
)
def test_any_other_error_is_named_by_its_type_never_its_text(error: Exception) -> None:
    assert dead_letter_error(error) == type(error).__name__


def test_a_refusal_says_its_code_and_the_fields_it_names_but_not_its_message() -> None:
    conflict = Conflict(f"{SECRET} belongs to another client", code="check_in_of_another_client")
    invalid = Invalid([FieldProblem("body.starts_at", SECRET)], code="invalid_slot")

    assert dead_letter_error(conflict) == "Conflict: check_in_of_another_client"
    assert dead_letter_error(invalid) == "Invalid: invalid_slot; fields body.starts_at"
    assert dead_letter_error(Conflict(SECRET)) == "Conflict"


def test_an_envelope_error_names_the_headers_without_their_values() -> None:
    error = EnvelopeError("unsupported ce_specversion 'Jane Doe ce_id'")

    assert describe_error(error) == "EnvelopeError: ce_specversion"


def test_a_record_of_another_event_is_dead_lettered_naming_the_header_not_what_it_said() -> None:
    record = new_event(check_in_due(), source="scheduling")
    headers = record.envelope.to_headers() | {"ce_type": f"carepath.{SECRET}.v1"}
    with pytest.raises(InvalidEvent) as error:
        parse_event(CheckInDue, headers, record.value())

    dead = dead_letter_headers(headers, error.value, consumer="my-platform")

    assert dead[DLQ_HEADERS.error] == "ce_type is not carepath.check-in-due.v1"
    assert dead["ce_type"] == f"carepath.{SECRET}.v1"  # the record's own header, kept as it came


def test_invalid_data_is_dead_lettered_with_the_field_paths() -> None:
    record = new_event(check_in_due(), source="scheduling")
    value = record.value().replace(b'"client_id"', b'"client"')
    with pytest.raises(InvalidEvent) as error:
        parse_event(CheckInDue, record.envelope.to_headers(), value)

    assert (
        dead_letter_headers({}, error.value, consumer="c")[DLQ_HEADERS.error] == "ValidationError: client_id"
    )


async def test_the_dead_letter_header_is_written_from_the_exception_itself() -> None:
    broker = RecordingBroker()
    record = SimpleNamespace(topic="check-in-due", partition=0, offset=7, key=b"k", value=b"{}", headers=[])

    await DeadLetters(broker, consumer="intake").send(  # type: ignore[arg-type]
        record, reason="retries_exhausted", error=RuntimeError(f"could not reach {SECRET}"), attempts=5
    )

    (published,) = broker.published
    assert published["headers"][DLQ_HEADERS.error] == "RuntimeError"
    assert SECRET not in repr(published)
