"""`GET /healthz` (alive) and `GET /readyz` (Kafka and MongoDB reachable), on the API port.

Both stay on the API port, where Kubernetes' probes look, and are exempt from the rate
limits. `/readyz` makes round trips to Kafka and MongoDB, so its answer is kept for a
second (`fresh_seconds`): however often it is asked, by probes or by anyone who can reach
the port, a replica checks at most once a second, and concurrent askers share one check.
Prometheus metrics are served on a port of their own (`shared.http.metrics_listener`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse

Check = Callable[[], Awaitable[bool]]


class Readiness:
    """The checks' results, run at most once per `fresh_seconds` and shared by concurrent askers."""

    def __init__(
        self,
        checks: Mapping[str, Check],
        *,
        timeout_seconds: float,
        fresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._checks = dict(checks)
        self._timeout = timeout_seconds
        self._fresh = fresh_seconds
        self._clock = clock
        self._lock = asyncio.Lock()
        self._results: dict[str, bool] | None = None
        self._checked_at = 0.0

    async def results(self) -> dict[str, bool]:
        async with self._lock:  # whoever waited here finds the answer the holder just made
            if self._results is None or self._clock() - self._checked_at >= self._fresh:
                checking = (_run(check, self._timeout) for check in self._checks.values())
                outcomes = await asyncio.gather(*checking)
                self._results = dict(zip(self._checks, outcomes, strict=True))
                self._checked_at = self._clock()
            return self._results


def health_router(
    checks: Mapping[str, Check], *, timeout_seconds: float = 3.0, fresh_seconds: float = 1.0
) -> APIRouter:
    router = APIRouter(tags=["health"])
    readiness = Readiness(checks, timeout_seconds=timeout_seconds, fresh_seconds=fresh_seconds)

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Kafka and MongoDB are reachable")
    async def readyz() -> JSONResponse:
        results = await readiness.results()
        ready = all(results.values())
        return JSONResponse(
            {
                "status": "ready" if ready else "unavailable",
                "checks": {k: "ok" if v else "failing" for k, v in results.items()},
            },
            status_code=200 if ready else 503,
        )

    return router


async def _run(check: Check, timeout: float) -> bool:
    try:
        return await asyncio.wait_for(check(), timeout=timeout)
    except Exception:
        return False
