"""The FastAPI app of a service: lifespan runs the `ServiceRuntime`, errors are problem+json."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from shared.http.api_docs import serve_openapi_document
from shared.http.health import health_router
from shared.http.limits import BodySizeLimit
from shared.http.problems import install_problem_handlers
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
) -> FastAPI:
    """The service's app: `/v1` routers, health, problem+json for every error (a command's
    `Refused` included), and `context` for routes to reach through `service_context`."""

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
    app.add_middleware(BodySizeLimit, max_bytes=runtime.settings.http_max_body_bytes)
    # Observing requests: counted by route template (outside the size limit, so a refused
    # body counts too), and a span per request when tracing is on (outermost).
    app.add_middleware(RequestMetrics)
    instrument_app(app, runtime.tracer_provider)
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
