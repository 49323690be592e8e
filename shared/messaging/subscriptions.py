"""A service's subscriptions, declared as one list (event model -> handler).

Handlers are plain coroutines `async def on_x(event: X, envelope: Envelope) -> None`, so
they are tested without Kafka; this module turns each into a FastStream subscriber with
the typed payload (for AsyncAPI), manual acknowledgement (the pipeline reports each record
done, and its offsets are committed on an interval) and a listener that commits on revocation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from faststream import Context
from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy
from pydantic import BaseModel

from shared.events.envelope import Envelope
from shared.events.registry import EventSpec, spec_for
from shared.messaging.consumption import ENVELOPE_CONTEXT_KEY
from shared.messaging.offsets import OffsetCommitter
from shared.settings import KafkaSettings

Handler = Callable[[Any, Envelope], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Subscription:
    event: type[BaseModel]
    handler: Handler

    @property
    def spec(self) -> EventSpec:
        return spec_for(self.event)


def group_for(group_id: str, spec: EventSpec) -> str:
    """The consumer group in which a service's replicas share one topic's partitions."""
    return f"{group_id}.{spec.name}"


def subscribe(
    broker: KafkaBroker,
    subscriptions: Iterable[Subscription],
    *,
    kafka: KafkaSettings,
    group_id: str,
    consumers_per_topic: int = 1,
    heartbeat_interval_ms: int = 1000,
    session_timeout_ms: int = 6000,
    fetch_max_wait_ms: int = 2000,
    max_poll_interval_ms: int = 300_000,
    offsets: OffsetCommitter | None = None,
) -> dict[str, EventSpec]:
    """Register every subscription; return the (prefixed) topic -> spec map for the pipeline.

    With `consumers_per_topic` > 1 the process runs that many group members per topic:
    partitions are spread over them and handled concurrently, while each partition's
    records are still handled one at a time, in order, and committed only after the
    pipeline (so a commit never passes a failed record).

    Each topic has its own consumer group, shared by the service's replicas
    (`group_for`). With one group for all of a service's subscriptions, every member that
    joined or left (one per topic, consumer and replica: 26 per notifications replica)
    made all of them stop for an eager rebalance, and a replica stopping its consumers one
    by one rebalanced the others a dozen times (a 28 s SIGTERM drain, against under 2 s
    now). A heartbeat of 1 s (aiokafka's is 3 s) lets members learn of a rebalance quickly, and
    an idle member's fetch waits 2 s at the broker (records end it at once; a lost assignment
    cancels it): polling is most of what a service costs when idle.
    """
    specs: dict[str, EventSpec] = {}
    for subscription in subscriptions:
        topic = kafka.topic(subscription.spec.topic)
        specs[topic] = subscription.spec
        broker.subscriber(
            topic,
            group_id=group_for(group_id, subscription.spec),
            # The pipeline reports each record done and `offsets` commits on an interval
            # (shared/messaging/offsets.py); a failed record is sought back to there.
            ack_policy=AckPolicy.MANUAL,
            listener=(offsets or OffsetCommitter()).listener(),
            auto_offset_reset="earliest",
            max_poll_interval_ms=max_poll_interval_ms,
            heartbeat_interval_ms=heartbeat_interval_ms,
            session_timeout_ms=session_timeout_ms,
            fetch_max_wait_ms=fetch_max_wait_ms,
            max_workers=consumers_per_topic,
            title=f"{group_id}:{subscription.spec.name}",
            description=(subscription.handler.__doc__ or "").strip() or None,
        )(_as_faststream_handler(subscription))
    return specs


def _as_faststream_handler(subscription: Subscription) -> Callable[..., Awaitable[None]]:
    handler = subscription.handler

    async def consume(event: Any, envelope: Any = Context(ENVELOPE_CONTEXT_KEY)) -> None:
        await handler(event, envelope)

    # The payload type is set at runtime so FastStream validates it and documents it.
    consume.__annotations__ = {"event": subscription.event, "envelope": Any, "return": None}
    consume.__name__ = getattr(handler, "__name__", type(handler).__name__)
    consume.__qualname__ = consume.__name__
    return consume
