"""`GET /metrics` on a port of its own (`<SVC>_METRICS_PORT`), never on the API's.

The API port is the one callers reach, through an ingress or the compose gateway; the
metrics name routes, topics and volumes, which are for operators. On a port of its own
the scrape is reachable by whoever the deployment lets reach it (Prometheus), and the
API answers 404 for `/metrics` like any other unknown path.

By default the port is the HTTP port + 1000 (8000 → 9000 in a container, 8001 → 9001
under `make run`), so replicas side by side on one machine, which already differ in HTTP
port, differ in metrics port too. `<SVC>_METRICS_PORT=0` serves none.

The listener is prometheus_client's own threaded server over the process-wide registry:
one per process, as the registry is, started by `shared.http.server.serve` before
uvicorn. A thread of its own keeps a scrape answering while the event loop is busy,
which is when an operator wants one. In-process tests build no listener; they start one
on port 0 when they scrape.
"""

from __future__ import annotations

import threading
from typing import Final
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, start_http_server
from prometheus_client.registry import Collector
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import ServiceSettings

PORT_OFFSET: Final = 1000
"""The default metrics port is the HTTP port plus this."""


class MetricsSettings(BaseSettings):
    """`<SVC>_METRICS_HOST` (default: the HTTP host) and `<SVC>_METRICS_PORT` (default: HTTP port + 1000)."""

    model_config = SettingsConfigDict(extra="ignore")

    metrics_host: str | None = None
    metrics_port: int | None = Field(default=None, ge=0, le=65535)

    @classmethod
    def of_service(cls, settings: ServiceSettings) -> MetricsSettings:
        """The metrics settings the environment sets for `settings`' service, under its own prefix."""
        # `_env_prefix` is pydantic-settings' own init argument; mypy knows only the fields.
        return cls(_env_prefix=settings.model_config.get("env_prefix", ""))  # type: ignore[call-arg]

    def address(self, settings: ServiceSettings) -> tuple[str, int] | None:
        """Where this service's metrics listen; None when `METRICS_PORT` is 0 (none served)."""
        port = self.metrics_port if self.metrics_port is not None else settings.http_port + PORT_OFFSET
        if port > 65535:
            prefix = settings.model_config.get("env_prefix", "")
            raise ValueError(
                f"HTTP port {settings.http_port} + {PORT_OFFSET} is no port; set {prefix}METRICS_PORT"
            )
        return (self.metrics_host or settings.http_host, port) if port else None


class MetricsListener:
    """A running metrics server; `port` is the one bound (useful when asked for port 0)."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @classmethod
    def start(cls, host: str, port: int, registry: Collector = REGISTRY) -> MetricsListener:
        """Serve `registry` on `host:port` from a daemon thread; OSError when the port is taken."""
        server, thread = start_http_server(port, addr=host, registry=registry)
        return cls(server, thread)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
