"""`GET /healthz` (alive), `GET /readyz` (Kafka and MongoDB reachable), `GET /metrics`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

Check = Callable[[], Awaitable[bool]]


def health_router(checks: Mapping[str, Check], *, timeout_seconds: float = 3.0) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Kafka and MongoDB are reachable")
    async def readyz() -> JSONResponse:
        results = {name: await _run(check, timeout_seconds) for name, check in checks.items()}
        ready = all(results.values())
        return JSONResponse(
            {
                "status": "ready" if ready else "unavailable",
                "checks": {k: "ok" if v else "failing" for k, v in results.items()},
            },
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def _run(check: Check, timeout: float) -> bool:
    try:
        return await asyncio.wait_for(check(), timeout=timeout)
    except Exception:
        return False
