"""Tracing: off by default, configured by `OTEL_*`, context carried by outbox and timers, no PHI exported."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_NAMESPACE
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import Status, StatusCode

from shared.events.envelope import new_event
from shared.observability.tracing import (
    active_provider,
    continued,
    instrument_app,
    new_tracer_provider,
    provider_from_environment,
    span,
    trace_headers,
    tracing_with,
    untraced,
)
from shared.storage.outbox import outbox_entries
from tests.support.kafka import check_in_due

OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
)


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No `OTEL_*` variable set, whatever the machine running the tests has."""
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Spans of this test, exported as the services export them (redacted), into memory."""
    exported = InMemorySpanExporter()
    provider = new_tracer_provider("intake", exported, batch=False)
    with tracing_with(provider):
        yield exported
    provider.shutdown()


def built() -> TracerProvider | None:
    provider = provider_from_environment("intake", instance="intake@host:1")
    if provider is not None:
        provider.shutdown()
    return provider


def test_tracing_is_off_when_no_exporter_is_configured(environment: pytest.MonkeyPatch) -> None:
    assert built() is None


@pytest.mark.parametrize(("name", "value"), [("OTEL_SDK_DISABLED", "true"), ("OTEL_TRACES_EXPORTER", "none")])
def test_disabling_variables_keep_tracing_off_with_an_endpoint(
    environment: pytest.MonkeyPatch, name: str, value: str
) -> None:
    environment.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    environment.setenv(name, value)
    assert built() is None


def test_an_otlp_endpoint_turns_tracing_on_under_the_services_name(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    provider = built()
    assert provider is not None
    assert provider.resource.attributes[SERVICE_NAME] == "intake"
    assert provider.resource.attributes[SERVICE_NAMESPACE] == "carepath"


def test_the_console_exporter_needs_no_endpoint(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("OTEL_TRACES_EXPORTER", "console")
    assert built() is not None


def test_otel_service_name_and_sampler_variables_win(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces")
    environment.setenv("OTEL_SERVICE_NAME", "intake-eu")
    environment.setenv("OTEL_TRACES_SAMPLER", "always_off")
    provider = built()
    assert provider is not None
    assert provider.resource.attributes[SERVICE_NAME] == "intake-eu"
    assert provider.sampler is ALWAYS_OFF


def test_without_a_provider_no_span_is_recorded_and_no_header_written() -> None:
    event = new_event(check_in_due(), source="scheduling")
    with tracing_with(None), continued("outbox relay intake-completed", {}) as relay:
        assert not relay.is_recording()
        assert trace_headers() == {}
        (entry,) = outbox_entries([event]).values()
    assert "traceparent" not in entry["headers"]


def test_an_outbox_entry_keeps_the_trace_context_of_the_span_that_wrote_it(
    exporter: InMemorySpanExporter,
) -> None:
    event = new_event(check_in_due(), source="scheduling")
    with continued("POST /v1/intakes/{intake_id}/submit", {}) as request:
        (entry,) = outbox_entries([event]).values()
    (outside,) = outbox_entries([event]).values()

    context = request.get_span_context()
    assert entry["headers"]["traceparent"].startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")
    assert entry["headers"]["ce_id"] == event.envelope.id, "the envelope's headers stay as they are"
    assert "traceparent" not in outside["headers"]


def test_the_relay_continues_the_writers_trace_from_the_stored_headers(
    exporter: InMemorySpanExporter,
) -> None:
    with continued("POST /v1/intakes/{intake_id}/submit", {}) as request:
        (entry,) = outbox_entries([new_event(check_in_due(), source="scheduling")]).values()
    with continued("outbox relay check-in-due", entry["headers"]) as relay:
        pass

    (exported,) = [s for s in exporter.get_finished_spans() if s.name == "outbox relay check-in-due"]
    assert relay.get_span_context().trace_id == request.get_span_context().trace_id
    assert exported.parent is not None and exported.parent.span_id == request.get_span_context().span_id


def test_a_timer_keeps_the_context_of_what_scheduled_it_and_its_firing_continues_it(
    exporter: InMemorySpanExporter,
) -> None:
    with continued("match-proposed process", {}) as consume:
        kept = trace_headers()  # what TimerStore.schedule stores as the timer's `trace`
    with untraced(), continued("timer delivery", kept) as fire:
        assert is_instrumentation_enabled(), "the firing's own work is traced again"
        with span("send email") as send:
            pass

    assert fire.get_span_context().trace_id == consume.get_span_context().trace_id
    assert send.get_span_context().trace_id == consume.get_span_context().trace_id
    assert trace_headers() == {}, "outside any span a timer keeps no context"


def test_a_firing_with_no_stored_context_begins_a_trace_of_its_own(exporter: InMemorySpanExporter) -> None:
    with continued("match-proposed process", {}), continued("timer delivery", {}) as fire:
        pass
    (exported,) = [s for s in exporter.get_finished_spans() if s.name == "timer delivery"]
    assert exported.parent is None and fire.get_span_context().is_valid


def test_exported_spans_carry_no_query_client_address_header_statement_or_exception_text(
    exporter: InMemorySpanExporter,
) -> None:
    tracer = trace.get_tracer("test", tracer_provider=active_provider())
    with tracer.start_as_current_span(
        "GET /v1/recipients/{recipient_id}/deliveries",
        attributes={
            "http.url": "http://user:pw@notifications/v1/recipients/r-1/deliveries?email=jane@example.com",
            "http.target": "/v1/recipients/r-1/deliveries?email=jane@example.com",
            "url.query": "email=jane@example.com",
            "http.route": "/v1/recipients/{recipient_id}/deliveries",
            "net.peer.ip": "203.0.113.7",
            "client.address": "203.0.113.7",
            "http.user_agent": "JanesPhone/1.0",
            "http.request.header.authorization": ("Bearer secret",),
            "db.statement": "find {'filter': {'email': 'jane@example.com'}}",
            "http.status_code": 500,
        },
    ) as current:
        current.record_exception(ValueError("Jane Doe answered 'I feel hopeless'"))
        current.set_status(Status(StatusCode.ERROR, "Jane Doe answered 'I feel hopeless'"))

    (exported,) = [s for s in exporter.get_finished_spans() if s.name.startswith("GET")]
    attributes = dict(exported.attributes or {})
    assert attributes == {
        "http.url": "http://notifications/v1/recipients/r-1/deliveries",
        "http.target": "/v1/recipients/r-1/deliveries",
        "http.route": "/v1/recipients/{recipient_id}/deliveries",
        "db.statement": "find",
        "http.status_code": 500,
    }
    (exception,) = exported.events
    assert dict(exception.attributes or {}).keys() <= {"exception.type", "exception.escaped"}
    assert exported.status.status_code is StatusCode.ERROR and not exported.status.description


def test_a_url_whose_route_holds_a_secret_is_exported_as_its_route(exporter: InMemorySpanExporter) -> None:
    tracer = trace.get_tracer("test", tracer_provider=active_provider())
    with tracer.start_as_current_span(
        "GET /v1/calendar-feeds/{token}.ics",
        attributes={
            "http.route": "/v1/calendar-feeds/{token}.ics",
            "http.target": "/v1/calendar-feeds/s3cr3t-feed-token.ics",
            "http.url": "https://scheduling/v1/calendar-feeds/s3cr3t-feed-token.ics",
        },
    ):
        pass

    (exported,) = exporter.get_finished_spans()
    assert "s3cr3t" not in str(dict(exported.attributes or {}))
    assert (exported.attributes or {})["http.target"] == "/v1/calendar-feeds/{token}.ics"


def test_requests_to_a_secret_feed_url_make_no_span(exporter: InMemorySpanExporter) -> None:
    app = FastAPI()

    @app.get("/v1/calendar-feeds/{token}.ics")
    async def feed(token: str) -> dict[str, str]:
        return {}

    @app.get("/v1/clients/{client_id}/calendar-feeds")
    async def feeds(client_id: str) -> dict[str, str]:
        return {}

    instrument_app(app, active_provider())
    with TestClient(app) as http:
        assert http.get("/v1/calendar-feeds/s3cr3t-feed-token.ics").status_code == 200
        assert http.get("/v1/clients/client-1/calendar-feeds").status_code == 200

    assert [s.name for s in exporter.get_finished_spans()] == ["GET /v1/clients/{client_id}/calendar-feeds"]
