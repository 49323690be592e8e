"""One trace per journey, on the real broker and database (issue 20, point 2).

Intake, matching, scheduling (booking at once) and notifications run in this process, each
built exactly as `python -m services.<name>` builds it (`tests/integration/<svc>/service.py`),
on one topic prefix, with an in-memory span exporter as the tracing provider and a real SMTP
server. One client's intake is submitted over HTTP; the submit request, each service's
consume of what followed and the e-mail that tells the client their session is booked must
share one trace id, although every event crossed an outbox, a relay and Kafka (the e-mail
goes out at once, while notifications handles session-booked). Nothing in an exported span
may be PHI.
"""

from __future__ import annotations

import json
import random
import string
import threading
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pymongo import AsyncMongoClient

from shared.events.envelope import OutgoingEvent, new_event
from shared.events.models import CheckInDue, IntakeCompleted
from shared.events.registry import spec_for
from shared.observability.tracing import (
    CORRELATION_ID,
    continued,
    new_tracer_provider,
    provider_from_environment,
    tracing_with,
)
from shared.settings import MongoSettings
from shared.storage.timers import Timer
from tests.integration.intake.service import RunningIntake, as_client, running_intake
from tests.integration.matching.service import ADMIN as MATCHING_ADMIN
from tests.integration.matching.service import RunningMatching, running_matching
from tests.integration.notifications.service import RunningNotifications, running_notifications
from tests.integration.scheduling.service import RunningScheduling, running_scheduling, scheduling_settings
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import drop_topics, event, eventually, isolated, publish_events
from tests.support.runtime import build_runtime
from tests.unit.intake.samples import BACKGROUND, GOAL_TEXT, complete_sections
from tests.unit.matching.builders import intake, profile

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ALWAYS = [{"day": day, "start": "00:00", "end": "24:00"} for day in DAYS]


@dataclass
class TracedSystem:
    intake: RunningIntake
    matching: RunningMatching
    scheduling: RunningScheduling
    notifications: RunningNotifications
    exporter: InMemorySpanExporter

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def topic(self, event: str) -> str:
        return self.intake.kafka.topic(event)


@pytest.fixture(scope="module")
async def traced(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[TracedSystem]:
    """The four services on one topic prefix, traced into memory, until the module ends."""
    exporter = InMemorySpanExporter()
    provider = new_tracer_provider("carepath-tests", exporter, batch=False)
    kafka = isolated(infrastructure.kafka_bootstrap_servers)
    mongo = MongoSettings(uri=infrastructure.mongodb_uri)
    run = uuid.uuid4().hex[:10]
    databases = {name: f"test_trace_{name}_{run}" for name in ("intake", "matching", "scheduling", "notif")}
    at_once = scheduling_settings(kafka, mongo, databases["scheduling"]).model_copy(
        update={"booking_policy": "book_at_once"}
    )
    try:
        with tracing_with(provider):
            async with AsyncExitStack() as stack:
                yield TracedSystem(
                    intake=await stack.enter_async_context(running_intake(kafka, mongo, databases["intake"])),
                    matching=await stack.enter_async_context(
                        running_matching(kafka, mongo, databases["matching"])
                    ),
                    scheduling=await stack.enter_async_context(running_scheduling(at_once)),
                    notifications=await stack.enter_async_context(
                        running_notifications(kafka, mongo, databases["notif"])
                    ),
                    exporter=exporter,
                )
    finally:
        provider.shutdown()
        for database in databases.values():
            await mongo_client.drop_database(database)
        await drop_topics(kafka)


@dataclass
class Journey:
    client_id: str
    intake_id: str
    email: str


async def submit_a_journey(system: TracedSystem) -> Journey:
    """A therapist in a place of the test's own, a client registered for e-mail, the intake submitted."""
    place = "US-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=3))
    therapist_id, client_id = f"therapist-{uuid.uuid4().hex[:8]}", f"client-{uuid.uuid4().hex[:8]}"
    email = f"{client_id}@trace.example"
    put = await system.matching.http.put(
        f"/v1/therapists/{therapist_id}",
        json=profile(licensed_jurisdictions=[place]).model_dump(mode="json"),
        headers=MATCHING_ADMIN,
    )
    assert put.status_code in (200, 201), put.text
    await system.scheduling.set_availability(
        therapist_id, {"timezone": "America/Los_Angeles", "weekly": ALWAYS, "min_notice_hours": 0}
    )
    await system.notifications.register(client_id, email=email, timezone="America/Los_Angeles")

    me = as_client(client_id)
    sections = complete_sections(jurisdiction=place, availability=ALWAYS)
    created = await system.intake.http.post("/v1/intakes", json={"client_id": client_id}, headers=me)
    assert created.status_code == 201, created.text
    intake_id = str(created.json()["id"])
    saved = await system.intake.http.patch(f"/v1/intakes/{intake_id}", json=sections, headers=me)
    assert saved.status_code == 200, saved.text
    submitted = await system.intake.http.post(f"/v1/intakes/{intake_id}/submit", headers=me)
    assert submitted.status_code == 200, submitted.text
    return Journey(client_id, intake_id, email)


def named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def consumed_by(spans: Sequence[ReadableSpan], topic: str, service: str) -> list[ReadableSpan]:
    """The consume spans of `topic` in `service`'s consumer group."""
    return [
        s
        for s in named(spans, f"{topic} process")
        if f"carepath-{service}" in str((s.attributes or {}).get("carepath.consumer", ""))
    ]


def sends_of(spans: Sequence[ReadableSpan], kind: str, recipient_id: str) -> list[ReadableSpan]:
    return [
        s
        for s in named(spans, "send email")
        if (s.attributes or {}).get("carepath.notification_kind") == kind
        and (s.attributes or {}).get("carepath.recipient_id") == recipient_id
    ]


def trace_of(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.trace_id


def outline(spans: Sequence[ReadableSpan], *, prefix: str) -> list[str]:
    """One trace as an indented tree in start order, MongoDB commands counted under their parent."""
    by_parent: dict[int | None, list[ReadableSpan]] = {}
    for found in sorted(spans, key=lambda s: s.start_time or 0):
        by_parent.setdefault(found.parent.span_id if found.parent else None, []).append(found)

    def is_command(found: ReadableSpan) -> bool:
        return (found.attributes or {}).get("db.system") == "mongodb"

    def lines(parent: int | None, depth: int) -> list[str]:
        out: list[str] = []
        for found in by_parent.get(parent, []):
            if is_command(found):
                continue
            assert found.context is not None
            consumer = str((found.attributes or {}).get("carepath.consumer", ""))
            label = found.name.replace(prefix, "")
            if consumer:
                label += f"  [{consumer.rsplit('carepath-', 1)[-1]}]"
            commands = sum(1 for c in by_parent.get(found.context.span_id, []) if is_command(c))
            if commands:
                label += f"  (+{commands} MongoDB commands)"
            out += ["  " * (depth + 1) + label, *lines(found.context.span_id, depth + 1)]
        return out

    return lines(None, 0)


def everything_exported(spans: Sequence[ReadableSpan]) -> str:
    """Every name, attribute, event and status text the exporter was handed, as one string."""
    return json.dumps(
        [
            {
                "name": s.name,
                "attributes": dict(s.attributes or {}),
                "events": [{"name": e.name, "attributes": dict(e.attributes or {})} for e in s.events],
                "status": s.status.description,
            }
            for s in spans
        ],
        default=str,
    )


async def test_the_submit_the_consumes_of_what_followed_and_the_email_share_one_trace(
    traced: TracedSystem,
) -> None:
    journey = await submit_a_journey(traced)

    async def booked_mail_fired() -> bool:
        """The e-mail's send ended, and so did the handling of session-booked around it."""
        spans = traced.spans()
        ended = {s.context.span_id for s in spans if s.context is not None}
        sends = sends_of(spans, "session_booked", journey.client_id)
        return any(s.parent is not None and s.parent.span_id in ended for s in sends)

    await eventually(booked_mail_fired, timeout=60.0)
    spans = traced.spans()
    (submit,) = [
        s
        for s in named(spans, "POST /v1/intakes/{intake_id}/submit")
        if (s.attributes or {}).get("http.target") == f"/v1/intakes/{journey.intake_id}/submit"
    ]
    journey_trace = trace_of(submit)
    steps = {
        "intake-completed consumed by matching": consumed_by(
            spans, traced.topic("intake-completed"), "matching"
        ),
        "match-proposed consumed by scheduling": consumed_by(
            spans, traced.topic("match-proposed"), "scheduling"
        ),
        "session-booked consumed by notifications": consumed_by(
            spans, traced.topic("session-booked"), "notifications"
        ),
        "the session-booked e-mail sent": sends_of(spans, "session_booked", journey.client_id),
    }
    for step, found in steps.items():
        in_trace = [s for s in found if trace_of(s) == journey_trace]
        assert in_trace, f"{step}: no span in the submit's trace ({len(found)} elsewhere)"
    (send,) = [s for s in steps["the session-booked e-mail sent"] if trace_of(s) == journey_trace]
    assert send.parent is not None
    (handling,) = [s for s in spans if s.context is not None and s.context.span_id == send.parent.span_id]
    assert handling in steps["session-booked consumed by notifications"], "sent at once, by the handler"

    # The journey's spans name it (the intake id is the correlation id) and are whole: one root.
    trace_spans = sorted((s for s in spans if trace_of(s) == journey_trace), key=lambda s: s.start_time or 0)
    roots = [s for s in trace_spans if s.parent is None]
    assert roots == [submit], [s.name for s in roots]
    correlated = {(s.attributes or {}).get(CORRELATION_ID) for s in trace_spans} - {None}
    assert correlated == {journey.intake_id}
    mail = [m for m in traced.notifications.mails_to(journey.email) if "booked" in str(m["Subject"])]
    assert mail, "the e-mail the span tells of reached the SMTP server"
    print("\nthe journey's trace, spans in start order:")
    print("\n".join(outline(trace_spans, prefix=traced.topic(""))))


async def test_no_exported_span_carries_phi_or_a_query_string(traced: TracedSystem) -> None:
    journey = await submit_a_journey(traced)

    async def booked_mail_sent() -> bool:
        return bool(sends_of(traced.spans(), "session_booked", journey.client_id))

    await eventually(booked_mail_sent, timeout=60.0)
    listed = await traced.notifications.http.get(
        f"/v1/recipients/{journey.client_id}/deliveries?limit=100&offset=0",
        headers={"Authorization": "Bearer not-a-token", "User-Agent": "PatientPhone/1.0"},
    )
    assert listed.status_code == 401
    exported = everything_exported(traced.spans())
    for phi in (BACKGROUND, GOAL_TEXT, journey.email, "sertraline", "generalized anxiety disorder"):
        assert phi not in exported
    for leak in ("limit=100", "Bearer", "PatientPhone", "exception.stacktrace", "net.peer.ip"):
        assert leak not in exported
    statements = {
        str((s.attributes or {}).get("db.statement"))
        for s in traced.spans()
        if (s.attributes or {}).get("db.statement") is not None
    }
    assert statements and all(" " not in statement for statement in statements), statements


async def test_a_timer_fires_in_the_trace_that_scheduled_it_else_in_a_new_one_named_by_its_journey(
    traced: TracedSystem, infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> None:
    async def nudge(timer: Timer) -> Sequence[OutgoingEvent]:
        """Publishes a `check-in-due` of the journey the payload names."""
        due = CheckInDue(
            check_in_id=timer.id,
            client_id="client-1",
            therapist_id="therapist-1",
            due_at=timer.due_at,
            instruments=["phq9"],
        )
        journey = str(timer.payload["journey"])
        return [new_event(due, event_id=timer.event_id(), correlation_id=journey)]

    def firing(timer_id: str) -> ReadableSpan | None:
        fired = named(traced.spans(), "timer nudge")
        found = [s for s in fired if (s.attributes or {}).get("carepath.timer_id") == timer_id]
        return found[0] if found else None

    def relayed(after: ReadableSpan) -> list[ReadableSpan]:
        relays = named(traced.spans(), "outbox relay check-in-due")
        return [s for s in relays if trace_of(s) == trace_of(after)]

    async def both_relayed() -> bool:
        fired = [firing(scheduled), firing(unscheduled)]
        return all(f is not None and relayed(f) for f in fired)

    kafka = isolated(infrastructure.kafka_bootstrap_servers)
    database = f"test_trace_timers_{uuid.uuid4().hex[:10]}"
    runtime = build_runtime(
        kafka,
        MongoSettings(uri=infrastructure.mongodb_uri),
        database,
        timer_handlers={"nudge": nudge},
        produces=[spec_for(CheckInDue)],
    )
    scheduled, unscheduled = f"nudge-{uuid.uuid4().hex[:8]}", f"nudge-{uuid.uuid4().hex[:8]}"
    try:
        async with runtime:
            now = datetime.now(UTC)
            with continued("PUT /v1/something", {}) as scheduling:  # as a request would
                await runtime.timers.schedule(scheduled, "nudge", now, {"journey": "journey-a"})
            await runtime.timers.schedule(unscheduled, "nudge", now, {"journey": "journey-b"})
            await eventually(both_relayed, timeout=20.0)
    finally:
        await mongo_client.drop_database(database)
        await drop_topics(kafka)

    continuing, starting = firing(scheduled), firing(unscheduled)
    assert continuing is not None and continuing.parent is not None
    scheduler = scheduling.get_span_context()
    assert (trace_of(continuing), continuing.parent.span_id) == (scheduler.trace_id, scheduler.span_id)
    assert (continuing.attributes or {}).get(CORRELATION_ID) == "journey-a"
    assert starting is not None and starting.parent is None, "scheduled outside any trace: it begins one"
    assert (starting.attributes or {}).get(CORRELATION_ID) == "journey-b"


async def test_an_event_published_without_trace_context_starts_a_trace_named_by_its_journey(
    traced: TracedSystem,
) -> None:
    """An event from outside (no `traceparent`): its consume begins a trace, found by its correlation id."""
    journey_id = f"intake-{uuid.uuid4().hex[:8]}"
    data: IntakeCompleted = intake(
        intake_id=journey_id, client_id=f"client-{uuid.uuid4().hex[:8]}", submitted_at=datetime.now(UTC)
    )
    await publish_events(traced.intake.kafka, event(data, correlation_id=journey_id))

    def consumes() -> list[ReadableSpan]:
        return [
            s
            for s in consumed_by(traced.spans(), traced.topic("intake-completed"), "matching")
            if (s.attributes or {}).get(CORRELATION_ID) == journey_id
        ]

    async def consumed() -> bool:
        return bool(consumes())

    await eventually(consumed, timeout=30.0)
    (consume,) = consumes()
    starts = [s for s in traced.spans() if trace_of(s) == trace_of(consume) and s.parent is None]
    assert [s.name for s in starts] == [f"{traced.topic('intake-completed')} create"]


class OtlpSink:
    """An OTLP/HTTP trace collector on a free port: keeps every export request it is sent."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.raw: list[bytes] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/v1/traces":
                    sink.raw.append(body)
                    sink.requests.append(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> OtlpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def services(self) -> set[str]:
        return {
            attribute.value.string_value
            for request in self.requests
            for resource_spans in request.resource_spans
            for attribute in resource_spans.resource.attributes
            if attribute.key == "service.name"
        }

    def span_names(self) -> set[str]:
        return {
            span.name
            for request in self.requests
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        }


def test_spans_reach_an_otlp_http_collector_redacted_when_the_standard_variables_say_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`OTEL_EXPORTER_OTLP_ENDPOINT` alone turns tracing on, under the service's own name."""
    for name in (
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
    ):
        monkeypatch.delenv(name, raising=False)
    with OtlpSink() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        provider = provider_from_environment("probe", instance="probe@host:1")
        assert provider is not None
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span(
            "GET /v1/effects/{check_in_id}",
            attributes={"http.target": "/v1/effects/ci-1?detail=secret", "net.peer.ip": "203.0.113.7"},
        ):
            pass
        provider.force_flush()
        provider.shutdown()

    assert collector.services() == {"probe"}
    assert collector.span_names() == {"GET /v1/effects/{check_in_id}"}
    assert not any(b"detail=secret" in body or b"203.0.113.7" in body for body in collector.raw)
