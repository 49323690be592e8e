"""A minimal service built only from `shared/`, run as a real process by the e2e tests.

It consumes `check-in-due`, spends `PROBE_HANDLER_SECONDS` on each event (so a test can
stop it mid-handle) and counts handler starts and finishes in MongoDB. One protected
route reads those counts back. Run: `python -m tests.support.probe_service`.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from fastapi import APIRouter, Depends
from pydantic_settings import SettingsConfigDict

from shared.events.envelope import Envelope
from shared.events.models import CheckInDue
from shared.http.app import create_service_app
from shared.http.auth import Principal, Role, require_roles
from shared.http.problems import Problem
from shared.http.server import serve
from shared.messaging.subscriptions import Subscription
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings


class ProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "probe"
    model_config = SettingsConfigDict(env_prefix="PROBE_", extra="ignore")

    handler_seconds: float = 0.0


def build() -> tuple[Any, ProbeSettings]:
    settings = ProbeSettings()
    holder: dict[str, ServiceRuntime] = {}

    async def on_check_in_due(event: CheckInDue, envelope: Envelope) -> None:
        effects = holder["runtime"].db["effects"]
        await effects.update_one({"_id": event.check_in_id}, {"$inc": {"started": 1}}, upsert=True)
        await asyncio.sleep(settings.handler_seconds)
        await effects.update_one({"_id": event.check_in_id}, {"$inc": {"finished": 1}})

    runtime = ServiceRuntime(settings, subscriptions=[Subscription(CheckInDue, on_check_in_due)])
    holder["runtime"] = runtime
    readers = require_roles(settings.auth, Role.admin, Role.service)
    router = APIRouter()

    @router.get("/effects/{check_in_id}")
    async def effect(check_in_id: str, who: Principal = Depends(readers)) -> dict[str, int]:
        found = await runtime.db["effects"].find_one({"_id": check_in_id})
        if found is None:
            raise Problem(404, "Not Found", f"no effect recorded for {check_in_id}")
        return {"started": found.get("started", 0), "finished": found.get("finished", 0)}

    return create_service_app(runtime, [router], title="Carepath probe"), settings


if __name__ == "__main__":
    app, probe_settings = build()
    serve(app, probe_settings)
