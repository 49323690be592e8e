"""Scrape this process's Prometheus metrics as an operator would: over HTTP, from their own port.

A service process serves them on `<SVC>_METRICS_PORT` (`shared.http.server.serve`), never
on its API. Tests that run a service in process start the same listener on a free port.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from shared.http.metrics_listener import MetricsListener


@contextmanager
def metrics_listener() -> Iterator[str]:
    """The URL of a metrics listener of this process, on a free loopback port, for the block."""
    listener = MetricsListener.start("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{listener.port}/metrics"
    finally:
        listener.close()


async def scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(url)
    assert answer.status_code == 200, answer.text
    return answer.text
