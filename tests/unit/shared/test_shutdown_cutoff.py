"""A request still running when a replica's shutdown grace ends is told to go elsewhere (503).

Run on a real uvicorn server: SIGTERM's path (stop accepting, wait the grace, cancel what
still runs) is uvicorn's own, so the test lets uvicorn do it rather than imitating it.
"""

from __future__ import annotations

import asyncio
import socket

import httpx
import uvicorn
from fastapi import FastAPI

from shared.http.limits import ShutdownCutoff


def a_free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_request_cut_off_by_the_shutdown_grace_answers_503_with_retry_after_not_500() -> None:
    app = FastAPI()
    app.add_middleware(ShutdownCutoff)
    began = asyncio.Event()

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        began.set()
        await asyncio.sleep(30)  # a database that does not answer before the grace ends
        return {"done": "yes"}

    port = a_free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, timeout_graceful_shutdown=1, log_config=None)
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    async with httpx.AsyncClient(timeout=10) as client:
        answer = asyncio.create_task(client.get(f"http://127.0.0.1:{port}/slow"))
        await began.wait()
        server.should_exit = True  # what SIGTERM sets
        response = await answer
    await serving
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Service Unavailable"


async def test_a_request_that_finishes_within_the_grace_is_answered_as_usual() -> None:
    app = FastAPI()
    app.add_middleware(ShutdownCutoff)

    @app.get("/quick")
    async def quick() -> dict[str, str]:
        return {"done": "yes"}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        response = await client.get("/quick")
    assert (response.status_code, response.json()) == (200, {"done": "yes"})
