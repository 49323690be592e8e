"""A minimal service built only from `shared/`, run as a real process by the e2e tests.

It shows a service's whole wiring in a dozen lines (`build`): the runtime, a store, a
subscription, a module-level router. It consumes `check-in-due`, spends
`PROBE_HANDLER_SECONDS` on each event (so a test can stop it mid-handle), and counts
handler starts and finishes per check-in through its `DocumentStore`. One protected route
reads those counts back. Run: `python -m tests.support.probe_service`.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from fastapi import APIRouter, Depends, FastAPI
from pydantic_settings import SettingsConfigDict

from shared.events.envelope import Envelope
from shared.events.models import CheckInDue
from shared.http.app import create_service_app
from shared.http.auth import Role
from shared.http.dependencies import Runtime, requires
from shared.http.problems import Problem
from shared.http.server import serve
from shared.messaging.subscriptions import Subscription
from shared.ports import Documents
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings
from shared.storage.documents import Revision


class ProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "probe"
    model_config = SettingsConfigDict(env_prefix="PROBE_", extra="ignore")

    handler_seconds: float = 0.0


def counted(field: str) -> Any:
    def change(document: dict[str, Any] | None) -> Revision:
        current = document or {"started": 0, "finished": 0}
        return Revision({**current, field: current[field] + 1})

    return change


def on_check_in_due(effects: Documents, handler_seconds: float) -> Any:
    async def handle(event: CheckInDue, envelope: Envelope) -> None:
        """Count the start, take `handler_seconds`, count the finish."""
        await effects.upsert(event.check_in_id, counted("started"))
        await asyncio.sleep(handler_seconds)
        await effects.upsert(event.check_in_id, counted("finished"))

    return handle


router = APIRouter()


@router.get("/effects/{check_in_id}", dependencies=[Depends(requires(Role.admin, Role.service))])
async def effect(check_in_id: str, runtime: Runtime) -> dict[str, int]:
    found = await runtime.documents("effects").get(check_in_id)
    if found is None:
        raise Problem(404, "Not Found", f"no effect recorded for {check_in_id}")
    return {"started": found["started"], "finished": found["finished"]}


def build(settings: ProbeSettings) -> FastAPI:
    runtime = ServiceRuntime(settings)
    effects = runtime.documents("effects")
    runtime.subscribe(Subscription(CheckInDue, on_check_in_due(effects, settings.handler_seconds)))
    return create_service_app(runtime, [router], title="Carepath probe")


if __name__ == "__main__":
    probe_settings = ProbeSettings()
    serve(build(probe_settings), probe_settings)
