"""`/readyz` checks Kafka and MongoDB at most once a second, however often it is asked."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from shared.http.health import Readiness, health_router


class CountingCheck:
    """A readiness check that counts its round trips and answers what it is told."""

    def __init__(self, answer: bool = True, seconds: float = 0.0) -> None:
        self.calls = 0
        self.answer = answer
        self.seconds = seconds

    async def __call__(self) -> bool:
        self.calls += 1
        await asyncio.sleep(self.seconds)
        return self.answer


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


async def test_readiness_is_checked_at_most_once_per_fresh_period() -> None:
    clock = FakeClock()
    mongodb = CountingCheck()
    readiness = Readiness({"mongodb": mongodb}, timeout_seconds=1, fresh_seconds=1.0, clock=clock)
    for _ in range(20):
        assert await readiness.results() == {"mongodb": True}
    assert mongodb.calls == 1
    clock.now += 0.99
    await readiness.results()
    assert mongodb.calls == 1
    clock.now += 0.02
    await readiness.results()
    assert mongodb.calls == 2


async def test_concurrent_askers_share_one_round_trip() -> None:
    kafka = CountingCheck(seconds=0.05)
    readiness = Readiness({"kafka": kafka}, timeout_seconds=1, fresh_seconds=1.0, clock=FakeClock())
    answers = await asyncio.gather(*(readiness.results() for _ in range(10)))
    assert answers == [{"kafka": True}] * 10
    assert kafka.calls == 1


async def test_a_failing_check_shows_once_the_last_answer_is_stale() -> None:
    clock = FakeClock()
    mongodb = CountingCheck()
    readiness = Readiness({"mongodb": mongodb}, timeout_seconds=1, fresh_seconds=1.0, clock=clock)
    assert await readiness.results() == {"mongodb": True}
    mongodb.answer = False
    clock.now += 1.0
    assert await readiness.results() == {"mongodb": False}


async def test_readyz_answers_503_naming_the_failing_check_and_a_hung_one_times_out() -> None:
    app = FastAPI()
    hung = CountingCheck(seconds=5)
    app.include_router(
        health_router({"kafka": CountingCheck(), "mongodb": hung}, timeout_seconds=0.05, fresh_seconds=1.0)
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as http:
        answer = await http.get("/readyz")
        again = await http.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "unavailable", "checks": {"kafka": "ok", "mongodb": "failing"}}
    assert again.json() == answer.json() and hung.calls == 1
