"""HTTP request metrics: counted by method, route template and status, never by the raw path."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client import REGISTRY

from shared.http.limits import BodySizeLimit
from shared.http.request_metrics import UNMATCHED, RequestMetrics


def requests_counted(method: str, route: str, status: str) -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("carepath_http_requests_total", labels) or 0.0


def timed(method: str, route: str, status: str) -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("carepath_http_request_duration_seconds_count", labels) or 0.0


@pytest.fixture
async def http() -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """An app with a router under /v1, as services have, and a prefix of its own per test."""
    base = f"/t{uuid.uuid4().hex[:8]}"
    router = APIRouter()

    @router.get("/clients/{client_id}/sessions")
    async def sessions(client_id: str) -> list[str]:
        return []

    @router.post("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    app = FastAPI()
    app.include_router(router, prefix=base + "/v1")
    app.add_middleware(BodySizeLimit, max_bytes=1024)
    app.add_middleware(RequestMetrics)  # outermost: also sees what the size limit refuses
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        yield client, base


async def test_requests_are_counted_under_their_route_template_never_the_path_with_ids(
    http: tuple[httpx.AsyncClient, str],
) -> None:
    client, base = http
    template = base + "/v1/clients/{client_id}/sessions"

    for client_id in ("client-7", "client-8"):
        assert (await client.get(f"{base}/v1/clients/{client_id}/sessions")).status_code == 200

    assert requests_counted("GET", template, "200") == 2
    assert timed("GET", template, "200") == 2
    routes = {s.labels["route"] for m in REGISTRY.collect() for s in m.samples if "route" in s.labels}
    assert not any("client-7" in route for route in routes)


async def test_a_wrong_method_counts_under_the_route_and_an_unknown_path_as_unmatched(
    http: tuple[httpx.AsyncClient, str],
) -> None:
    client, base = http
    unmatched_before = requests_counted("GET", UNMATCHED, "404")

    assert (await client.delete(f"{base}/v1/clients/client-7/sessions")).status_code == 405
    assert (await client.get(f"{base}/v1/clients/client-7/notes/n-1")).status_code == 404

    assert requests_counted("DELETE", base + "/v1/clients/{client_id}/sessions", "405") == 1
    assert requests_counted("GET", UNMATCHED, "404") == unmatched_before + 1


async def test_a_failing_route_counts_as_500_and_a_refused_body_as_413(
    http: tuple[httpx.AsyncClient, str],
) -> None:
    client, base = http

    assert (await client.post(f"{base}/v1/boom")).status_code == 500
    assert (await client.post(f"{base}/v1/boom", content=b"x" * 2048)).status_code == 413

    assert requests_counted("POST", base + "/v1/boom", "500") == 1
    assert requests_counted("POST", base + "/v1/boom", "413") == 1


async def test_a_middleware_added_twice_counts_each_request_once() -> None:
    base = f"/t{uuid.uuid4().hex[:8]}"
    app = FastAPI()

    @app.get(base + "/ping")
    async def ping() -> str:
        return "pong"

    app.add_middleware(RequestMetrics)
    app.add_middleware(RequestMetrics)  # e.g. by the app factory and again by a test
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        assert (await client.get(base + "/ping")).status_code == 200

    assert requests_counted("GET", base + "/ping", "200") == 1
