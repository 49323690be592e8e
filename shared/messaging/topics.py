"""Get Kafka ready for a starting service: its topics exist, and consumer groups can form.

Every service runs `ensure_topics` at start, before its consumers join their groups:

1. create each missing topic with the configured partitions (DESIGN §3);
2. wait until the broker's group coordinator answers. A fresh broker creates its
   `__consumer_offsets` topic only when the first group asks for a coordinator, and
   answers `GroupCoordinatorNotAvailable` until that topic is loaded. aiokafka's consumers
   log every such answer as an error and retry every 100 ms, so a first `make run` used to
   print about 40 `[error] GroupCoordinatorNotAvailableError` lines that meant nothing
   more than "wait a second". Asking once here, with a bound and one info line, lets the
   consumers find a coordinator at their first try.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    GroupCoordinatorNotAvailableError,
    GroupLoadInProgressError,
    KafkaError,
    NotCoordinatorForGroupError,
    TopicAlreadyExistsError,
)

from shared.messaging.broker import kafka_connection_options
from shared.observability.logs import get_logger
from shared.settings import KafkaSettings

log = get_logger(__name__)

# Any group id will do: the broker creates and loads all of `__consumer_offsets` at once.
# Asking for a coordinator creates no group. Under group ACLs, pass one the service may
# describe (its own prefix, `<group_id>.startup-probe`).
PROBE_GROUP = "carepath-startup-probe"


@dataclass(frozen=True)
class CoordinatorWait:
    """How long start-up waits for the group coordinator, and how often it asks.

    The bound keeps a broker that never gets there from holding a replica back for good:
    past it the service starts anyway, and its consumers keep asking on their own.
    """

    timeout_seconds: float = 30.0
    first_pause_seconds: float = 0.1
    max_pause_seconds: float = 1.0

    def pause_after(self, attempt: int, waited_seconds: float) -> float | None:
        """The pause before asking again after failed `attempt` (1-based); None: stop asking."""
        pause = min(self.max_pause_seconds, self.first_pause_seconds * 2.0 ** (attempt - 1))
        if waited_seconds + pause > self.timeout_seconds:
            return None
        return pause


DEFAULT_WAIT = CoordinatorWait()


def coordinator_not_ready(error: BaseException) -> bool:
    """Whether `error` is a broker still creating or loading its offsets topic.

    Anything else (a lost connection, say) is not waited out here: it goes to the caller,
    whose start-up retries treat an unreachable Kafka as they always have.
    """
    return isinstance(
        error, GroupCoordinatorNotAvailableError | GroupLoadInProgressError | NotCoordinatorForGroupError
    )


async def wait_for_group_coordinator(
    admin: AIOKafkaAdminClient, wait: CoordinatorWait = DEFAULT_WAIT, *, group: str = PROBE_GROUP
) -> bool:
    """Ask for `group`'s coordinator until one answers; False if it never did within the bound.

    Logs one info line when it has to wait, and one warning if the bound runs out. A
    principal that may not describe `group` cannot tell: it goes on without waiting.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    attempt = 0
    while True:
        attempt += 1
        try:
            await admin.find_coordinator(group)
            return True
        except GroupAuthorizationFailedError:
            return False
        except KafkaError as error:
            if not coordinator_not_ready(error):
                raise
            waited = loop.time() - started
            pause = wait.pause_after(attempt, waited)
            if pause is None:
                log.warning(
                    "kafka's group coordinator is still not available; starting anyway "
                    "(consumers keep asking on their own)",
                    waited_seconds=round(waited, 1),
                    error_type=type(error).__name__,
                )
                return False
            if attempt == 1:
                log.info(
                    "waiting for kafka's group coordinator (a new broker creates its offsets topic first)",
                    timeout_seconds=wait.timeout_seconds,
                )
            await asyncio.sleep(pause)


async def ensure_topics(
    kafka: KafkaSettings,
    names: Iterable[str],
    coordinator: CoordinatorWait = DEFAULT_WAIT,
    *,
    probe_group: str = PROBE_GROUP,
) -> None:
    """Create each missing topic (prefix applied), then wait for the group coordinator.

    Callers name the `.dlq` topics they need.
    """
    wanted = {kafka.topic(name) for name in names}
    admin = AIOKafkaAdminClient(**kafka_connection_options(kafka))
    await admin.start()
    try:
        await create_missing(admin, kafka, wanted)
        await wait_for_group_coordinator(admin, coordinator, group=probe_group)
    finally:
        await admin.close()


async def create_missing(admin: AIOKafkaAdminClient, kafka: KafkaSettings, wanted: set[str]) -> None:
    """Create the topics of `wanted` (full names) that do not exist yet, in the configured shape."""
    missing = sorted(wanted - set(await admin.list_topics()))
    if not missing:
        return
    # Another replica may create them between our list and create: that is fine.
    with suppress(TopicAlreadyExistsError):
        await admin.create_topics(
            [
                NewTopic(
                    name,
                    num_partitions=kafka.topic_partitions,
                    replication_factor=kafka.topic_replication_factor,
                )
                for name in missing
            ]
        )
