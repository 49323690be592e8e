"""Compose only: Docker restarts a crashed service container, and no client's booking is lost.

Runs with `JOURNEY_SYSTEM=external` against the docker compose stack, given the Docker
Engine's socket and `COMPOSE_PROJECT_NAME`; skipped everywhere else.
"""

from __future__ import annotations

import asyncio
import os
import time

import httpx
import pytest

from tests.e2e.journey.docker_engine import DOCKER_SOCKET, Engine
from tests.e2e.journey.system import EXTERNAL, System, headers_of, value_of
from tests.e2e.journey.test_journey import GOOD, STRONG, Journey

PROJECT = os.environ.get("COMPOSE_PROJECT_NAME", "")
CRASHED = "matching"
SERVICE_USER = "10001"  # the images' user (Dockerfile), who may signal the service's process
CLIENTS = 10
STAGGER = 0.5  # seconds between the clients' intakes, so the crash finds them at every step
CRASH_AFTER = 3  # proposals made before matching is crashed
DEADLINE = 240.0  # how long one step may wait for the crashed service to come back
SETTLE = 5.0  # how long a duplicate booking gets to show up

pytestmark = [
    pytest.mark.skipif(
        not (EXTERNAL and PROJECT and DOCKER_SOCKET.exists()),
        reason="compose only: needs JOURNEY_SYSTEM=external, COMPOSE_PROJECT_NAME and the Docker "
        f"Engine socket at {DOCKER_SOCKET} (the compose stack's `tests` container)",
    ),
    pytest.mark.timeout(600),
]


async def test_a_crashed_service_container_is_restarted_and_every_intake_is_still_booked(
    system: System,
) -> None:
    """Every matching container is crashed while clients are between intake and booking.

    The crash is a SIGKILL of the service's process from inside the container (`kill -9 -1`
    as the service's user spares only the container's init), as the kernel's OOM killer
    would: the container exits with 137 and `restart: unless-stopped` starts it again.
    `docker kill` would not do: Docker marks a container it was asked to kill as stopped
    by hand, and its restart policy never restarts such a container.

    Each client accepts the first therapist proposed; while matching is down the gateway
    answers 502 or drops the connection, and the client tries again until it answers.
    """
    async with httpx.AsyncClient(timeout=30) as http, Engine(PROJECT) as engine:
        journeys = [Journey(system, http) for _ in range(CLIENTS)]
        await asyncio.gather(*(journey.seed(STRONG, GOOD) for journey in journeys))
        containers = await engine.containers(CRASHED)
        assert containers, f"no running {CRASHED} container in compose project {PROJECT}"
        restarts = {container: await engine.restart_count(container) for container in containers}

        async with asyncio.TaskGroup() as clients:
            walks = [
                clients.create_task(intake_to_acceptance(journey, delay=n * STAGGER))
                for n, journey in enumerate(journeys)
            ]
            await proposals_made(system, journeys, CRASH_AFTER)
            await asyncio.gather(
                *(engine.run_inside(c, ["sh", "-c", "kill -9 -1"], user=SERVICE_USER) for c in containers)
            )
            await restarted(engine, restarts)
        chosen = {journey.client_id: walk.result() for journey, walk in zip(journeys, walks, strict=True)}

    for journey in journeys:
        await system.records("session-booked", journey.client_id, timeout=DEADLINE)
    await asyncio.sleep(SETTLE)
    for journey in journeys:
        client = journey.client_id
        accepted = await system.records("match-accepted", client)
        # The outbox relay may publish an acceptance again after the crash: the same event.
        assert len({headers_of(r)["ce_id"] for r in accepted}) == 1, [value_of(r) for r in accepted]
        assert {value_of(r)["therapist_id"] for r in accepted} == {chosen[client]}
        booked = await system.records("session-booked", client)
        assert len(booked) == 1, [value_of(r) for r in booked]
        assert value_of(booked[0])["therapist_id"] == chosen[client]


async def intake_to_acceptance(journey: Journey, *, delay: float) -> str:
    """Intake, the proposal, and the client accepting its first therapist: who was accepted."""
    await asyncio.sleep(delay)
    await journey.submit_intake()
    proposal = await journey.first("match-proposed", timeout=DEADLINE)
    chosen = str(proposal["candidates"][0]["therapist_id"])
    await accept_until_answered(journey, proposal["match_id"], chosen)
    return chosen


async def accept_until_answered(journey: Journey, match_id: str, therapist_id: str) -> None:
    """Accept, again while matching is down (5xx, connection errors), until it answers 200.

    Accepting the same therapist again returns the proposal unchanged, so an acceptance that
    was stored but whose answer was lost in the crash is safe to send again.
    """
    url = journey.system.url("matching", f"/matches/{match_id}/accept")
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            answer = await journey.http.post(url, json={"therapist_id": therapist_id}, headers=journey.me)
        except httpx.TransportError as error:
            problem = repr(error)
        else:
            if answer.status_code < 500:
                assert answer.status_code == 200, answer.text
                return
            problem = f"{answer.status_code} {answer.text[:200]}"
        if time.monotonic() > deadline:
            raise AssertionError(f"match {match_id} not accepted within {DEADLINE} s: {problem}")
        await asyncio.sleep(0.5)


async def proposals_made(system: System, journeys: list[Journey], count: int) -> None:
    """Wait until `count` of the clients have a proposal: the others are still on their way."""
    assert system.recorder is not None
    topic = system.kafka.topic("match-proposed")
    deadline = time.monotonic() + 60.0
    while sum(bool(system.recorder.of(topic, j.client_id)) for j in journeys) < count:
        assert time.monotonic() < deadline, f"fewer than {count} proposals within 60 s"
        await asyncio.sleep(0.1)


async def restarted(engine: Engine, restarts: dict[str, int]) -> None:
    """Wait until Docker has restarted every crashed container (its RestartCount went up)."""
    deadline = time.monotonic() + DEADLINE
    for container, before in restarts.items():
        while (count := await engine.restart_count(container)) <= before:
            state = (await engine.inspect(container))["State"]
            assert time.monotonic() < deadline, (
                f"{CRASHED} container {container[:12]} not restarted within {DEADLINE} s "
                f"(RestartCount {count}, state {state})"
            )
            await asyncio.sleep(0.5)
