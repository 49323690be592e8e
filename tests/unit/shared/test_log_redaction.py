"""Logs are JSON with correlation ids, and never contain a value of a PHI field (DESIGN §8)."""

from __future__ import annotations

import io
import json
import logging

import structlog

from shared.observability.logs import bound_context, configure_logging, get_logger, redact_phi


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_phi_fields_are_redacted_at_any_depth(log_stream: io.StringIO) -> None:
    get_logger("test").info(
        "intake saved",
        client_id="client-1",
        email="jane@example.com",
        intake={"name": "Jane Doe", "answers": [3, 2, 1], "history": "panic attacks since 2019"},
        contacts=[{"phone": "+1 555 0100"}],
    )
    text = log_stream.getvalue()
    for secret in ("jane@example.com", "Jane Doe", "panic attacks", "555 0100"):
        assert secret not in text
    (entry,) = lines(log_stream)
    assert entry["client_id"] == "client-1"
    assert entry["email"] == "[REDACTED]"


def test_standard_library_loggers_are_redacted_too(log_stream: io.StringIO) -> None:
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


def test_redaction_keeps_ids_and_codes() -> None:
    assert redact_phi({"client_id": "c-1", "concerns": ["anxiety"], "Email": "x@y.z"}) == {
        "client_id": "c-1",
        "concerns": ["anxiety"],
        "Email": "[REDACTED]",
    }


def test_library_loggers_with_their_own_handlers_are_routed_through_json_and_redaction() -> None:
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
    assert entry["event"] == "consumer stopped" and entry["email"] == "[REDACTED]"
    assert not faststream_logger.handlers


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
