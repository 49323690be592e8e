"""HTTP request metrics: how many requests each route answered, with which status, how fast.

    app.add_middleware(RequestMetrics)

A plain ASGI middleware (not Starlette's `BaseHTTPMiddleware`, which buffers streamed
responses and runs the app in another task). Requests are labelled by the *template* of
the route that answered them (`/v1/intakes/{intake_id}`), never by the path the client
sent: paths carry client and therapist ids, which must not become labels (DESIGN §8),
and one series per id would grow without bound. A path no route matches is `unmatched`.

The template is found by matching the request against the app's routes before the app
answers, as the OpenTelemetry FastAPI instrumentation does: FastAPI (0.137 and later)
keeps an included router's routes with their own, unprefixed paths, and only its public
`iter_route_contexts` gives each route's full template (`/v1` and all).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.observability.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS

COUNTED = "carepath.request_metrics"
"""Set in the scope by the outermost `RequestMetrics`, so one added twice counts once."""

UNMATCHED = "unmatched"
"""The `route` label of a request no route matches (a 404 from the router itself)."""


def route_template(scope: Scope) -> str:
    """The template of the route that answers this request: a full match, else one that
    matched the path but not the method (a 405), else `unmatched`."""
    routes = getattr(getattr(scope.get("app"), "router", None), "routes", None) or []
    partial: str | None = None
    for route in iter_route_contexts(routes):  # an included router's routes with its prefix
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return _template_of(route)
        if match is Match.PARTIAL and partial is None:
            partial = _template_of(route)
    return partial or UNMATCHED


def _template_of(route: Any) -> str:
    return str(getattr(route, "path_format", None) or getattr(route, "path", None) or UNMATCHED)


class RequestMetrics:
    """Counts and times every HTTP request by method, route template and status code."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get(COUNTED):
            await self.app(scope, receive, send)
            return
        scope[COUNTED] = True
        started = time.perf_counter()
        route = route_template(scope)  # before the app: routing adds to the scope
        status = 500  # what the client gets if the app fails before it answers

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            labels = (scope["method"], route, str(status))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_REQUEST_SECONDS.labels(*labels).observe(time.perf_counter() - started)
