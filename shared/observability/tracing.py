"""One trace per journey: OpenTelemetry from the HTTP request through Kafka to the last e-mail.

Who makes the spans:

- an HTTP request: opentelemetry-instrumentation-fastapi (`instrument_app`; health, metrics
  and the API documents are left out);
- a publish and a consume: FastStream's `KafkaTelemetryMiddleware` (`broker_telemetry`),
  which writes the W3C `traceparent` header on every record it publishes and continues the
  trace of the record it consumes;
- a MongoDB command: opentelemetry-instrumentation-pymongo, which names the command and
  the collection only (statement capture stays off: no document content);
- where no library instruments: the outbox relay's publish, a timer's firing and a
  notification's send (`continued`, `span`).

The outbox breaks the in-process context: an event is written inside the request (or the
consume, or the timer) that caused it and published later by the relay, in another task
or another replica. So each outbox entry keeps the `traceparent` and `tracestate` of the
span that wrote it among its record headers (`trace_headers`), the relay publishes inside
a span that continues it, and the consumer's span continues the relay's. A timer keeps
the context of whatever scheduled it the same way (its `trace`, `shared/storage/timers.py`),
so its firing, and the e-mail a delivery timer sends, stay in the journey's trace. Trace context
is a header, never event data, and carries ids only.

Configured by the standard variables, off by default (`configure_tracing`): spans are
exported over OTLP/HTTP only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set and neither `OTEL_SDK_DISABLED=true` nor
`OTEL_TRACES_EXPORTER=none` says otherwise (`OTEL_TRACES_EXPORTER=console` prints them).
`OTEL_SERVICE_NAME` defaults to the service's name, `OTEL_TRACES_SAMPLER` and
`OTEL_TRACES_SAMPLER_ARG` choose the sampler (parent-based, always on by default),
`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*` and the rest are read by the SDK as usual.
Off, nothing is instrumented: no middleware, no span, no header; what remains is a
context-variable read per outbox write.

No PHI leaves the process in a span (DESIGN §8): `RedactingSpanExporter` sits in front of
every exporter and drops what an instrumentation may record beyond ids and codes: query
strings, client addresses and user agents, captured headers, exception messages and stack
traces, status descriptions, and any database statement past its command name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import (
    SERVICE_INSTANCE_ID,
    SERVICE_NAME,
    SERVICE_NAMESPACE,
    OTELResourceDetector,
    Resource,
)
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from shared.observability.logs import get_logger

if TYPE_CHECKING:
    from fastapi import FastAPI
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

# The instrumentations and the OTLP exporter (protobuf) are imported only once tracing is
# on: together they would add about a second to every process start, traced or not.

log = get_logger(__name__)

TRACE_HEADERS: Final = ("traceparent", "tracestate")
"""The W3C Trace Context headers an outbox entry and a timer keep, and a record carries."""

CORRELATION_ID: Final = "carepath.correlation_id"
"""The journey (DESIGN §3) on spans of ours, so a trace is found from a log line and back."""

NAMESPACE: Final = "carepath"
EXCLUDED_URLS: Final = "/healthz,/readyz,/metrics,/docs,/openapi.json,/v1/calendar-feeds/"
"""Requests that make no span: probes, documents, and calendar apps polling a secret feed URL."""

_PROPAGATOR = TraceContextTextMapPropagator()
_provider: SdkTracerProvider | None = None
_pymongo_instrumented = False


# ------------------------------------------------------------------ configuration


def configure_tracing(service_name: str, *, instance: str | None = None) -> SdkTracerProvider | None:
    """The provider this process traces with; None when tracing is off (the default).

    Built from the `OTEL_*` variables at the first call that finds an exporter configured,
    and made the global provider too; a provider installed before (`tracing_with`, in
    tests) is used as it is. Instruments PyMongo while tracing is on: call it before the
    MongoDB client is made, whose commands are then traced.
    """
    global _provider
    if _provider is None and (built := provider_from_environment(service_name, instance=instance)):
        _provider = built
        trace.set_tracer_provider(built)
        log.info("tracing on", service=service_name)
    if _provider is not None:
        _instrument_pymongo()
    return _provider


def provider_from_environment(service_name: str, *, instance: str | None = None) -> SdkTracerProvider | None:
    """A provider exporting as the `OTEL_*` variables say, or None when they ask for no export.

    `OTEL_TRACES_EXPORTER` is a list (`otlp` by default; `console`; `none`); `otlp` counts
    only with an endpoint, so an unconfigured process exports nothing.
    """
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    names = [n.strip().lower() for n in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")]
    exporters: list[SpanExporter] = []
    for name in dict.fromkeys(n for n in names if n and n != "none"):
        if name == "console":
            exporters.append(ConsoleSpanExporter())
        elif name == "otlp":
            exporters.extend(_otlp_exporter())
        else:
            log.warning("unsupported OTEL_TRACES_EXPORTER entry; ignored", exporter=name)
    return new_tracer_provider(service_name, *exporters, instance=instance) if exporters else None


def _otlp_exporter() -> list[SpanExporter]:
    """OTLP over HTTP to the configured endpoint (it reads the rest of `OTEL_EXPORTER_OTLP_*`)."""
    endpoints = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    if not any(os.environ.get(name, "").strip() for name in endpoints):
        return []
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol.strip() != "http/protobuf":
        log.warning("only OTLP over HTTP (http/protobuf) is installed; using it", protocol=protocol)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return [OTLPSpanExporter()]


def new_tracer_provider(
    service_name: str, *exporters: SpanExporter, instance: str | None = None, batch: bool = True
) -> SdkTracerProvider:
    """A provider whose spans reach each exporter redacted; `batch=False` exports each at its end (tests).

    `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` win over the defaults given here;
    the sampler comes from `OTEL_TRACES_SAMPLER`.
    """
    defaults: dict[str, AttributeValue] = {SERVICE_NAME: service_name, SERVICE_NAMESPACE: NAMESPACE}
    if instance:
        defaults[SERVICE_INSTANCE_ID] = instance
    resource = Resource.create({**defaults, **OTELResourceDetector().detect().attributes})
    provider = SdkTracerProvider(resource=resource)
    for exporter in exporters:
        safe = RedactingSpanExporter(exporter)
        processor: SpanProcessor = BatchSpanProcessor(safe) if batch else SimpleSpanProcessor(safe)
        provider.add_span_processor(processor)
    return provider


@contextmanager
def tracing_with(provider: SdkTracerProvider | None) -> Iterator[None]:
    """Trace with `provider` the runtimes built inside the block (tests: an in-memory exporter).

    Leaves OpenTelemetry's global provider alone (it can be set once per process), so the
    tests that run after it in the same process trace nothing.
    """
    global _provider, _pymongo_instrumented
    previous, _provider = _provider, provider
    try:
        yield
    finally:
        _provider = previous
        if previous is None and _pymongo_instrumented:
            from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

            PymongoInstrumentor().uninstrument()
            _pymongo_instrumented = False


def active_provider() -> SdkTracerProvider | None:
    return _provider


def _instrument_pymongo() -> None:
    """Trace MongoDB commands by name and collection: never the statement (document content)."""
    global _pymongo_instrumented
    if _pymongo_instrumented:
        return
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    instrumentor = PymongoInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=_FollowingProvider(), capture_statement=False)
    _pymongo_instrumented = True


class _FollowingTracer(trace.Tracer):
    """Makes spans with the provider this process traces with now (none: no-op).

    PyMongo's instrumentation is one listener per process, registered once; following the
    active provider lets tests install and remove theirs.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._of: tuple[SdkTracerProvider | None, trace.Tracer] = (None, trace.NoOpTracer())

    def _now(self) -> trace.Tracer:
        provider, tracer = self._of
        if provider is not _provider:  # one tracer per provider, not one per command
            tracer = trace.NoOpTracer() if _provider is None else _provider.get_tracer(self._name)
            self._of = (_provider, tracer)
        return tracer

    def start_span(self, *args: Any, **kwargs: Any) -> Span:
        return self._now().start_span(*args, **kwargs)

    @contextmanager
    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Iterator[Span]:  # type: ignore[override]
        with self._now().start_as_current_span(*args, **kwargs) as current:
            yield current


class _FollowingProvider(trace.TracerProvider):
    def get_tracer(self, instrumenting_module_name: str, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _FollowingTracer(instrumenting_module_name)


# ------------------------------------------------------------------ what the runtime wires


def broker_telemetry(provider: SdkTracerProvider | None) -> KafkaTelemetryMiddleware | None:
    """FastStream's span per publish and consume, continuing the record's `traceparent`."""
    if provider is None:
        return None
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

    return KafkaTelemetryMiddleware(tracer_provider=provider, include_messages_counters=False)


def instrument_app(app: FastAPI, provider: SdkTracerProvider | None) -> None:
    """A server span per request (named by method and route), the outermost middleware.

    Only the span: no `receive`/`send` spans per body chunk, no headers captured.
    """
    if provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls=EXCLUDED_URLS, exclude_spans=["receive", "send"]
    )


@contextmanager
def untraced() -> Iterator[None]:
    """No spans for the runtime's own bookkeeping (heartbeats, leases, sweeps, housekeeping).

    Tasks started inside inherit it; a span of ours that continues a journey (`continued`)
    turns instrumentation back on inside it. Nothing to suppress while tracing is off.
    """
    if _provider is None:
        yield
        return
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        yield


# ------------------------------------------------------------------ carrying the context


def trace_headers() -> dict[str, str]:
    """The current span's W3C context as record headers; empty when nothing is traced."""
    if not trace.get_current_span().get_span_context().is_valid:
        return {}
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return {name: carrier[name] for name in TRACE_HEADERS if name in carrier}


@contextmanager
def continued(
    name: str,
    carrier: Mapping[str, str],
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Iterator[Span]:
    """A span of ours continuing the trace `carrier` names (its `traceparent`), else a new trace.

    Started from an empty context, so neither the current span nor the runtime's
    `untraced()` suppression leaks in: work inside it is traced as the journey's.
    """
    if _provider is None:
        yield INVALID_SPAN
        return
    parent = _PROPAGATOR.extract({k: v for k, v in carrier.items() if k in TRACE_HEADERS}, context=Context())
    # Attached first: a span made current is set into the *current* context, which would
    # otherwise still hold the caller's span and suppression.
    token = context.attach(parent)
    try:
        tracer = _provider.get_tracer(__name__)
        with tracer.start_as_current_span(name, kind=kind, attributes=attributes) as current:
            yield current
    finally:
        context.detach(token)


@contextmanager
def span(name: str, attributes: Mapping[str, AttributeValue] | None = None) -> Iterator[Span]:
    """A span of ours inside the current one (e.g. an e-mail send inside a delivery's firing)."""
    if _provider is None:
        yield INVALID_SPAN
        return
    with _provider.get_tracer(__name__).start_as_current_span(name, attributes=attributes) as current:
        yield current


def failed(current: Span, code: str) -> None:
    """Mark `current` failed with a code (never a message: it might carry PHI)."""
    current.set_attribute("error.type", code)
    current.set_status(Status(StatusCode.ERROR))


def note_correlation(correlation_id: str | None) -> None:
    """Name the journey on the current span (a write's cause, a consumed event)."""
    current = trace.get_current_span()
    if correlation_id and current.is_recording():
        current.set_attribute(CORRELATION_ID, correlation_id)


def note_attributes(attributes: Mapping[str, AttributeValue]) -> None:
    """Ids and codes on the current span, if one is recorded."""
    current = trace.get_current_span()
    if current.is_recording():
        current.set_attributes(attributes)


# ------------------------------------------------------------------ no PHI in what leaves

_DROPPED: Final = frozenset(
    {
        # who called: client addresses and devices identify a person
        "net.peer.ip",
        "net.peer.port",
        "net.sock.peer.addr",
        "net.sock.peer.port",
        "network.peer.address",
        "network.peer.port",
        "client.address",
        "client.port",
        "http.client_ip",
        "http.user_agent",
        "user_agent.original",
        "user_agent.synthetic.type",
        # content
        "url.query",
        "messaging.message.body",
        "exception.message",
        "exception.stacktrace",
    }
)
_DROPPED_PREFIXES: Final = ("http.request.header.", "http.response.header.")
_URLS: Final = frozenset({"http.url", "url.full", "http.target", "url.path"})
_SECRET_IN_PATH: Final = "{token}"  # noqa: S105 - a route parameter's name, not a secret
"""A route parameter that is a credential (a calendar feed's): its URL is told by its route."""
_STATEMENTS: Final = frozenset({"db.statement", "db.query.text"})


def safe_attributes(attributes: Mapping[str, AttributeValue] | None) -> dict[str, AttributeValue]:
    """`attributes` with what may carry PHI dropped, URLs cut at the query, statements at the command.

    A URL whose route has a secret parameter (`{token}`) is replaced by the route itself.
    """
    route = (attributes or {}).get("http.route")
    secret_route = route if isinstance(route, str) and _SECRET_IN_PATH in route else None
    safe: dict[str, AttributeValue] = {}
    for key, value in (attributes or {}).items():
        if key in _DROPPED or key.startswith(_DROPPED_PREFIXES):
            continue
        if key in _URLS and isinstance(value, str):
            value = _without_query(value, path=secret_route)
        elif key in _STATEMENTS and isinstance(value, str):
            value = value.split(" ", 1)[0]
        safe[key] = value
    return safe


def _without_query(url: str, *, path: str | None = None) -> str:
    """`url` without query, fragment or user info; with `path` instead of its own, if given."""
    if url.startswith("/"):
        return path or url.split("?", 1)[0].split("#", 1)[0]
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], path or parts.path, "", ""))


def redacted(original: ReadableSpan) -> ReadableSpan:
    """A copy of `original` fit to leave the process (see `safe_attributes`; no status description)."""
    return ReadableSpan(
        name=original.name,
        context=original.context,
        parent=original.parent,
        resource=original.resource,
        attributes=safe_attributes(original.attributes),
        events=[Event(e.name, safe_attributes(e.attributes), e.timestamp) for e in original.events],
        links=original.links,
        kind=original.kind,
        status=Status(original.status.status_code),
        start_time=original.start_time,
        end_time=original.end_time,
        instrumentation_scope=original.instrumentation_scope,
    )


class RedactingSpanExporter(SpanExporter):
    """Exports through `inner` only redacted copies of the spans (DESIGN §8: no PHI in spans)."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([redacted(s) for s in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)
