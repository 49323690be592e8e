"""Run a service under uvicorn; SIGTERM triggers the lifespan shutdown (drain, commit, close).

Its Prometheus metrics listen on a port of their own (`<SVC>_METRICS_PORT`, see
`shared.http.metrics_listener`), opened before the API so a port already taken stops the
start at once, naming it.
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from shared.http.metrics_listener import MetricsListener, MetricsSettings
from shared.observability.logs import configure_logging, get_logger
from shared.settings import ServiceSettings

log = get_logger(__name__)


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    configure_logging(settings.service_name, level=settings.log.level, fmt=settings.log.format)
    metrics = _start_metrics(settings)
    try:
        uvicorn.run(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,  # keep our structlog JSON handlers
            timeout_graceful_shutdown=int(settings.http_shutdown_grace_seconds),
            # X-Forwarded-* are honoured only from `<SVC>_TRUSTED_PROXIES`, by the app itself
            # (`create_service_app`): uvicorn's own default would trust 127.0.0.1 implicitly.
            proxy_headers=False,
        )
    finally:
        if metrics is not None:
            metrics.close()


def _start_metrics(settings: ServiceSettings) -> MetricsListener | None:
    prefix = settings.model_config.get("env_prefix", "")
    try:
        address = MetricsSettings.of_service(settings).address(settings)
        if address is None:
            log.info("metrics not served", setting=f"{prefix}METRICS_PORT")
            return None
        listener = MetricsListener.start(*address)
    except (ValueError, OSError) as error:
        raise SystemExit(f"cannot start: {prefix}METRICS_PORT: {error}") from None
    log.info("metrics served", host=address[0], port=listener.port, path="/metrics")
    return listener
