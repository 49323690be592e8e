"""Logs are JSON with correlation ids and keep only allowed fields: no PHI, no error values (DESIGN §8)."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
import structlog
from pydantic import BaseModel, ValidationError, field_validator

from shared.observability.logs import ALLOWED_FIELDS, bound_context, configure_logging, get_logger

SECRETS = ("jane@example.com", "Jane Doe", "panic attacks", "555 0100", "high", "since 2019")


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


class History(BaseModel):
    client_id: str
    history: str

    @field_validator("history")
    @classmethod
    def short(cls, value: str) -> str:
        if len(value) > 10:
            raise ValueError(f"too long: {value}")  # a validator that quotes what it refused
        return value


def test_a_line_keeps_only_allowed_fields_whatever_the_others_are_called(log_stream: io.StringIO) -> None:
    get_logger("test").info(
        "intake saved",
        client_id="client-1",
        email="jane@example.com",
        display="Jane Doe",
        intake={"client_id": "client-1", "history": "panic attacks since 2019"},
        contacts=[{"phone": "+1 555 0100"}],
    )

    (entry,) = lines(log_stream)
    assert set(entry) <= ALLOWED_FIELDS
    assert entry["client_id"] == "client-1" and entry["event"] == "intake saved"
    assert entry["dropped_fields"] == ["contacts", "display", "email", "intake"]
    assert not [secret for secret in SECRETS if secret in log_stream.getvalue()]


def test_a_clinical_value_never_sits_beside_a_client_id_even_when_declared(log_stream: io.StringIO) -> None:
    get_logger("test").info(
        "intake submitted",
        client_id="client-1",
        intake_id="intake-1",
        risk_level="high",
        score=21,
        allow=("risk_level", "score"),
    )

    (entry,) = lines(log_stream)
    assert {"risk_level", "score"}.isdisjoint(entry)
    assert entry["dropped_fields"] == ["risk_level", "score"]
    assert (entry["client_id"], entry["intake_id"]) == ("client-1", "intake-1")


def test_a_call_site_declares_the_extra_fields_of_its_one_line(log_stream: io.StringIO) -> None:
    log = get_logger("test")
    log.info("proposal made", match_id="m-1", origin_code="waitlist", allow=("origin_code",))
    log.info("proposal made", match_id="m-2", origin_code="waitlist")

    declared, undeclared = lines(log_stream)
    assert declared["origin_code"] == "waitlist" and "allow" not in declared
    assert "origin_code" not in undeclared and undeclared["dropped_fields"] == ["origin_code"]


def test_an_allowed_field_holding_a_mapping_is_dropped_like_an_unknown_one(log_stream: io.StringIO) -> None:
    get_logger("test").info("saved", client_id={"name": "Jane Doe"}, therapist_ids=["t-1", "t-2"])

    (entry,) = lines(log_stream)
    assert "client_id" not in entry and entry["therapist_ids"] == ["t-1", "t-2"]
    assert "Jane Doe" not in log_stream.getvalue()


def test_an_exception_is_logged_as_its_type_and_frames_never_its_text(log_stream: io.StringIO) -> None:
    try:
        raise RuntimeError("could not save Jane Doe <jane@example.com>: panic attacks since 2019")
    except RuntimeError:
        get_logger("test").exception("save failed", client_id="client-1")

    (entry,) = lines(log_stream)
    assert entry["error_type"] == "RuntimeError"
    assert entry["error_stack"] and entry["error_stack"][-1].endswith(
        "in test_an_exception_is_logged_as_its_type_and_frames_never_its_text"
    )
    assert "exception" not in entry and "exc_info" not in entry
    assert not [secret for secret in SECRETS if secret in log_stream.getvalue()]


def test_a_validation_error_is_logged_as_field_paths_never_what_was_sent(log_stream: io.StringIO) -> None:
    with pytest.raises(ValidationError) as refused:
        History.model_validate({"client_id": 7, "history": "panic attacks since 2019, Jane Doe"})
    assert "panic attacks" in str(refused.value)  # what a traceback would have written

    get_logger("test").warning("intake refused", exc_info=refused.value)

    (entry,) = lines(log_stream)
    assert (entry["error_type"], entry["error_fields"]) == ("ValidationError", ["client_id", "history"])
    assert "input_value=" not in log_stream.getvalue()
    assert not [secret for secret in SECRETS if secret in log_stream.getvalue()]


def test_a_library_line_quoting_its_exception_has_that_text_withheld(log_stream: io.StringIO) -> None:
    error = ValueError("client jane@example.com answered 'high'")
    # FastStream logs a failed handler as f"{type}: {exc}" with the exception attached.
    logging.getLogger("faststream.intake").error(
        f"{type(error).__name__}: {error}", exc_info=error, extra={"topic": "t", "answers": [3, 2]}
    )

    (entry,) = lines(log_stream)
    assert entry["event"] == "ValueError: [withheld]" and entry["error_type"] == "ValueError"
    assert entry["topic"] == "t" and entry["dropped_fields"] == ["answers"]
    assert not [secret for secret in SECRETS if secret in log_stream.getvalue()]


def test_the_console_format_keeps_the_same_fields_and_no_traceback() -> None:
    stream = io.StringIO()
    configure_logging("test-service", fmt="console", stream=stream)
    try:
        try:
            raise KeyError("Jane Doe")
        except KeyError:
            get_logger("test").exception("lookup failed", email="jane@example.com")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    text = stream.getvalue()
    assert "lookup failed" in text and "error_type=KeyError" in text
    assert "Jane Doe" not in text and "jane@example.com" not in text and "Traceback" not in text


def test_standard_library_extras_go_through_the_allow_list(log_stream: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").warning("request failed", extra={"notes": "private session notes"})
    assert "private session notes" not in log_stream.getvalue()


def test_ids_bound_from_event_headers_appear_on_every_line(log_stream: io.StringIO) -> None:
    with bound_context(correlation_id="journey-9", event_id="evt-1"):
        get_logger("test").info("handled")
    get_logger("test").info("after")
    inside, after = lines(log_stream)
    assert inside["correlation_id"] == "journey-9" and inside["event_id"] == "evt-1"
    assert inside["service"] == "test-service"
    assert "correlation_id" not in after


def test_library_loggers_with_their_own_handlers_are_routed_through_json_and_the_allow_list() -> None:
    faststream_logger = logging.getLogger("faststream")
    faststream_logger.addHandler(logging.StreamHandler())  # what FastStream does on import
    faststream_logger.propagate = False
    stream = io.StringIO()
    configure_logging("test-service", stream=stream)
    try:
        logging.getLogger("faststream.intake").warning("consumer stopped", extra={"email": "a@b.c"})
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    (entry,) = lines(stream)
    assert entry["event"] == "consumer stopped" and "email" not in entry
    assert "a@b.c" not in stream.getvalue()
    assert not faststream_logger.handlers


def test_a_logged_request_path_never_shows_a_query_string_or_a_feed_token(log_stream: io.StringIO) -> None:
    get_logger("test").warning("request failed", path="/v1/calendar-feeds/q8Zk3vT0secret.ics?email=a@b.c")
    (entry,) = lines(log_stream)
    assert entry["path"] == "/v1/calendar-feeds/***"


def test_access_log_lines_keep_the_path_but_drop_the_query_string(log_stream: io.StringIO) -> None:
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        "/v1/clients/c-1/matches?email=jane@example.com",
        "1.1",
        200,
    )
    (entry,) = lines(log_stream)
    assert "/v1/clients/c-1/matches" in entry["event"]
    assert "jane@example.com" not in log_stream.getvalue()


def test_access_log_lines_never_show_a_calendar_feeds_secret_token(log_stream: io.StringIO) -> None:
    token = "q8Zk3vT0secretToken"
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/v1/calendar-feeds/{token}.ics", "1.1", 200
    )
    (entry,) = lines(log_stream)
    assert "/v1/calendar-feeds/***" in entry["event"]
    assert token not in log_stream.getvalue()
