"""Run a service under uvicorn; SIGTERM triggers the lifespan shutdown (drain, commit, close)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from shared.observability.logs import configure_logging
from shared.settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    configure_logging(settings.service_name, level=settings.log.level, fmt=settings.log.format)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # keep our structlog JSON handlers
        timeout_graceful_shutdown=int(settings.http_shutdown_grace_seconds),
        proxy_headers=True,
    )
