"""A cap on request bodies (DESIGN §8: input is validated strictly, with size limits).

Checked before the body reaches FastAPI: a declared `Content-Length` over the limit is
refused at once, and a streamed body is counted as it arrives; past the limit the
client gets 413 problem+json and the app sees the client gone, so an oversized upload
never fills memory.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.problems import PROBLEM_JSON, Problem


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    await self._refuse(scope, send)
                    return {"type": "http.disconnect"}  # the app stops reading here
            return message

        async def send_unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, counting_receive, send_unless_refused)
        except Exception:
            if not refused:
                raise  # the app's own error; the refusal was already answered otherwise

    async def _refuse(self, scope: Scope, send: Send) -> None:
        problem = Problem(413, "Content Too Large", f"request body exceeds {self.max_bytes} bytes")
        await send_problem(scope, send, problem)


async def send_problem(scope: Scope, send: Send, problem: Problem, *headers: tuple[bytes, bytes]) -> None:
    """A problem+json answer from ASGI middleware, where FastAPI's handlers do not reach."""
    body = json.dumps(problem.body(scope.get("path", ""))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ShutdownCutoff:
    """A request still running when the shutdown grace ends answers 503, never 500.

    On SIGTERM uvicorn stops accepting, gives open requests `http_shutdown_grace_seconds`,
    then cancels what still runs, and a cancelled request would reach the client as 500 (a
    server fault). What happened is that this replica went away: 503 with `Retry-After`
    tells the client to send it again, to a replica that stays. The handlers' writes are
    idempotent (documents keyed by their ids, events by derived ids), so a request whose
    effects were already stored is answered the same way the second time.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def noting_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, noting_send)
        except asyncio.CancelledError:
            if started:
                raise  # half an answer is out: only closing the connection is honest
            problem = Problem(
                503, "Service Unavailable", "this replica is shutting down; send the request again"
            )
            await send_problem(scope, send, problem, (b"retry-after", b"1"), (b"connection", b"close"))
