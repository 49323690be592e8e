"""A process that stores a state change with its outbox event, then dies before publishing.

Run as `python -m tests.support.crashing_writer <mongodb-uri> <database> <intake-id>`; it
prints the event id and exits abruptly (`os._exit`), as a crash or OOM kill would.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime

from pymongo import AsyncMongoClient

from shared.events.common import RiskLevel
from shared.events.envelope import new_event
from shared.events.models import RiskFlagged
from shared.storage.outbox import with_outbox


async def write(uri: str, database: str, intake_id: str) -> str:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri, tz_aware=True)
    flagged = new_event(
        RiskFlagged(
            intake_id=intake_id,
            client_id="client-crash",
            risk_level=RiskLevel.high,
            reasons=["cssrs_q5_plan_with_intent"],
            flagged_at=datetime.now(UTC),
        ),
        source="intake",
    )
    await client[database]["intakes"].insert_one(
        with_outbox({"_id": intake_id, "status": "submitted"}, [flagged])
    )
    return flagged.envelope.id


if __name__ == "__main__":
    event_id = asyncio.run(write(*sys.argv[1:4]))
    print(event_id, flush=True)
    os._exit(17)  # die before any relay could publish
