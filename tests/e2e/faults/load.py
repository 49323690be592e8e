"""Load for the fault scenarios: a shared therapist directory, a steady stream of clients.

Requests go through `Balancer`, an httpx transport that plays the load balancer in front
of a service's replicas: each request goes to the next live replica, and a refused
connection, a dropped one or a 503 is tried again on another (or the same, restarted)
replica. So a client's request survives a replica being killed, as it would behind a
real balancer. A 429 (a replica's rate limit: the audit reads hundreds of records as one
admin) is sent again after its `Retry-After`, as a well-behaved client does. A retried
draft creation can leave an unsubmitted draft behind, which never reaches any other
service. Clients are the journey tests' `Journey` (imported).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx

from deploy.local.sinks import MailSink
from tests.e2e.journey.system import Process, System
from tests.e2e.journey.test_journey import OFFICE_WEEK, Journey, a_place

# Room for every client of a stream without any therapist ever running out: matching's
# capacity counts clients in care plus holds of open proposals (three per proposal), so
# 30 therapists x 100 hold far more than 600 streamed clients x 3; scheduling offers a
# 50-minute introduction on 8 hours a day for 60 days (hundreds of slots each).
THERAPISTS = 30
CAPACITY = 100
RETRY_FOR = 180.0


class Balancer(httpx.AsyncBaseTransport):
    """Routes `system.url(...)` requests to a live replica of that service, retrying failures."""

    def __init__(self, system: System) -> None:
        self._system = system
        self._inner = httpx.AsyncHTTPTransport()
        self._turns = {name: itertools.count() for name in system.replicas}
        self._by_port = {
            int(process.base.rsplit(":", 1)[1]): name
            for name, group in system.replicas.items()
            for process in group
        }
        self.retries = 0

    def _pick(self, service: str) -> Process:
        group = self._system.replicas[service]
        live = [p for p in group if p.alive] or group
        return live[next(self._turns[service]) % len(live)]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        service = self._by_port.get(request.url.port or 0)
        if service is None:
            return await self._inner.handle_async_request(request)
        body = await request.aread()
        deadline = time.monotonic() + RETRY_FOR
        while True:
            target = httpx.URL(self._pick(service).base)
            routed = httpx.Request(
                request.method,
                request.url.copy_with(port=target.port),
                headers=request.headers,
                content=body,
                extensions=request.extensions,
            )
            try:
                response = await self._inner.handle_async_request(routed)
                if response.status_code not in (429, 503) or time.monotonic() > deadline:
                    return response
                await response.aclose()
                if response.status_code == 429:
                    await asyncio.sleep(float(response.headers.get("retry-after", "1")))
                    continue  # throttled, not failed over: not counted as a retry
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            self.retries += 1
            await asyncio.sleep(0.3)

    async def aclose(self) -> None:
        await self._inner.aclose()


class TimedMailSink(MailSink):
    """The SMTP sink, also noting when each e-mail arrived (for recovery times)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        self.arrivals.append(time.time())
        return answer


@dataclass
class Directory:
    """The therapists every streamed client can be matched with, in one place of their own."""

    place: str
    therapists: list[str]


async def seed_directory(system: System, http: httpx.AsyncClient, count: int = THERAPISTS) -> Directory:
    journey = Journey(system, http)
    journey.place = a_place()
    # Office hours and a day's notice: introductions a day or more ahead, as in real life.
    await journey.seed(*[{"capacity": CAPACITY}] * count, week=OFFICE_WEEK, notice_hours=24)
    return Directory(journey.place, journey.therapists)


@dataclass
class Stream:
    """Clients sent at a steady rate until told to stop (and at least `minimum` of them).

    Each client registers for e-mail, saves a draft in two steps and submits it; the
    rate is kept by starting each client on schedule, whatever the earlier ones wait for.
    """

    system: System
    http: httpx.AsyncClient
    directory: Directory
    rate: float = 4.0
    minimum: int = 200
    maximum: int = 600
    clients: list[str] = field(default_factory=list)
    submitted: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    started_at: float = 0.0
    finished_at: float = 0.0

    async def run(self, until: asyncio.Event) -> None:
        self.started_at = time.time()
        tasks: list[asyncio.Task[None]] = []
        begun = time.monotonic()
        for n in itertools.count():
            if n >= self.maximum or (n >= self.minimum and until.is_set()):
                break
            await asyncio.sleep(max(0.0, begun + n / self.rate - time.monotonic()))
            tasks.append(asyncio.create_task(self._client()))
        await asyncio.gather(*tasks)
        self.finished_at = time.time()

    async def _client(self) -> None:
        journey = Journey(self.system, self.http)
        journey.place = self.directory.place
        self.clients.append(journey.client_id)
        try:
            await journey.register(journey.client_id, "client")
            await journey.submit_intake()
            self.submitted[journey.client_id] = time.time()
        except Exception as error:
            self.failures.append(f"{journey.client_id}: {type(error).__name__}: {error}"[:500])


def mails_with(mails: list[EmailMessage], subject: str) -> list[EmailMessage]:
    return [m for m in mails if str(m["Subject"]) == subject]
