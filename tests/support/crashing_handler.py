"""A replica whose handler stores its effect and then dies before the inbox records the event.

Run as `python -m tests.support.crashing_handler` with the infrastructure settings in the
environment (`KAFKA_*`, `MONGODB_URI`, `PLUMBING_TEST_MONGODB_DATABASE`). It consumes
`check-in-due`, counts each check-in once per cause in the `effects` collection, and
exits abruptly (`os._exit`, as a `kill -9` or an OOM kill would) right after that write:
the consume pipeline never gets to record the event in the inbox or commit its offset.
With `CRASHING_HANDLER_MODE=handle` it handles normally and waits to be killed.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from shared.events.envelope import Envelope
from shared.events.models import CheckInDue
from shared.messaging.subscriptions import Subscription
from shared.ports import Documents
from shared.runtime import ServiceRuntime
from shared.settings import KafkaSettings, MongoSettings
from shared.storage.documents import Revision
from tests.support.runtime import PlumbingTestSettings

CRASH_EXIT_CODE = 17


def replica_environment(
    kafka: KafkaSettings, mongo: MongoSettings, database: str, **extra: str
) -> dict[str, str]:
    """The environment this module runs in as a replica on the test's topics and database."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "MONGODB_URI": mongo.uri.get_secret_value(),
        "PLUMBING_TEST_MONGODB_DATABASE": database,
        **extra,
    }


def count(document: dict[str, Any] | None) -> Revision:
    current = document or {}
    return Revision({**current, "n": current.get("n", 0) + 1})


def counting_handler(effects: Documents, *, crash_after_write: bool = False) -> Any:
    async def on_check_in_due(event: CheckInDue, envelope: Envelope) -> None:
        await effects.upsert(event.check_in_id, count, cause=envelope)
        if crash_after_write:
            os._exit(CRASH_EXIT_CODE)

    return on_check_in_due


async def main() -> None:
    runtime = ServiceRuntime(PlumbingTestSettings())
    effects = runtime.documents("effects")
    # CRASHING_HANDLER_MODE=handle: the handler returns normally; the test kills this replica
    # after the inbox has the event and before its offset is committed.
    crash = os.environ.get("CRASHING_HANDLER_MODE", "crash") == "crash"
    runtime.subscribe(Subscription(CheckInDue, counting_handler(effects, crash_after_write=crash)))
    async with runtime:
        await asyncio.Event().wait()  # until the handler's crash


if __name__ == "__main__":
    asyncio.run(main())
