"""The FastAPI app of a service: lifespan runs the `ServiceRuntime`, errors are problem+json.

Around the routes, outermost first: tracing, the client's address from a trusted proxy's
`X-Forwarded-For` (only when `<SVC>_TRUSTED_PROXIES` names one), request metrics, rate
limits (before anything reads a body or the database), the body size cap.
Prometheus metrics are not served here but on their own port (`shared.http.metrics_listener`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from shared.http.api_docs import serve_openapi_document
from shared.http.health import health_router
from shared.http.limits import BodySizeLimit, ShutdownCutoff
from shared.http.problems import install_problem_handlers
from shared.http.rate_limits import RateLimit, RateLimits, verified_principal
from shared.http.request_metrics import RequestMetrics
from shared.observability.tracing import instrument_app
from shared.runtime import ServiceRuntime


def create_service_app(
    runtime: ServiceRuntime,
    routers: Sequence[APIRouter],
    *,
    title: str,
    description: str = "",
    context: object | None = None,
    rate_limits: RateLimits | None = None,
) -> FastAPI:
    """The service's app: `/v1` routers, health, problem+json for every error (a command's
    `Refused` included), and `context` for routes to reach through `service_context`.

    `rate_limits` default to what the environment sets under the service's prefix.
    """
    limits = rate_limits or RateLimits.of_service(runtime.settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.runtime = runtime
    app.state.context = context
    # Innermost: a request cut off at the end of the shutdown grace answers 503, through the rest.
    app.add_middleware(ShutdownCutoff)
    app.add_middleware(BodySizeLimit, max_bytes=runtime.settings.http_max_body_bytes)
    app.add_middleware(RateLimit, limits=limits, principal_of=verified_principal(runtime.settings.auth))
    # Observing requests: counted by route template (outside the limits, so a refused
    # request counts too), and a span per request when tracing is on.
    app.add_middleware(RequestMetrics)
    instrument_app(app, runtime.tracer_provider)
    if limits.trusted_proxies:  # outside the metrics and limits: they see the client, not the proxy
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=limits.trusted_proxies)
    install_problem_handlers(app)
    app.include_router(
        health_router(
            {"kafka": runtime.kafka_ready, "mongodb": runtime.mongo_ready, "consuming": runtime.consuming}
        )
    )
    for router in routers:
        app.include_router(router, prefix="/v1")
    serve_openapi_document(app)  # /openapi.json is the committed, validated document
    return app
