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

from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from pydantic import BaseModel

from shared.events.envelope import Envelope
from shared.events.registry import EventSpec, spec_for
from shared.messaging.consumption import HANDLED_ENVELOPE, HANDLED_EVENT
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

    With `kafka.group_instance_id` (KAFKA_GROUP_INSTANCE_ID) set, every consumer is a static
    member (KIP-345) named by `static_member_id`. A replica restarted under the same name
    rejoins with the same ids and the coordinator hands it its previous partitions at once:
    no rebalance of the others, and after a kill -9 no wait for the dead member's session
    to time out. The price: aiokafka never sends LeaveGroup for a static member, on a clean
    stop neither, so a replica that does not come back (scaled down, renamed) keeps its
    partitions unread until `session_timeout_ms` runs out. Hence only for replicas with
    stable names (a StatefulSet, `make run`, the e2e harness), never a Deployment's pods.
    """
    specs: dict[str, EventSpec] = {}
    for subscription in subscriptions:
        topic = kafka.topic(subscription.spec.topic)
        specs[topic] = subscription.spec
        options: dict[str, Any] = {
            "group_id": group_for(group_id, subscription.spec),
            # The pipeline reports each record done and `offsets` commits on an interval
            # (shared/messaging/offsets.py); a failed record is sought back to there.
            "ack_policy": AckPolicy.MANUAL,
            "listener": (offsets or OffsetCommitter()).listener(),
            "auto_offset_reset": "earliest",
            "max_poll_interval_ms": max_poll_interval_ms,
            "heartbeat_interval_ms": heartbeat_interval_ms,
            "session_timeout_ms": session_timeout_ms,
            "fetch_max_wait_ms": fetch_max_wait_ms,
            "title": f"{group_id}:{subscription.spec.name}",
            "description": (subscription.handler.__doc__ or "").strip() or None,
            "decoder": validated_event,
        }
        handler = _as_faststream_handler(subscription)
        if kafka.group_instance_id is None:
            broker.subscriber(topic, max_workers=consumers_per_topic, **options)(handler)
            continue
        # FastStream's `max_workers` builds its consumers with identical arguments, and one
        # `group.instance.id` on two live members fences one of them: one subscriber each.
        for consumer in range(consumers_per_topic):
            broker.subscriber(
                topic,
                group_instance_id=static_member_id(kafka.group_instance_id, subscription.spec, consumer),
                include_in_schema=consumer == 0,  # one operation per topic in the AsyncAPI document
                **options,
            )(handler)
    return specs


def static_member_id(replica: str, spec: EventSpec, consumer: int) -> str:
    """The `group.instance.id` of this replica's `consumer`-th member of `spec`'s group.

    Unique among the group's live members as long as `replica` (KAFKA_GROUP_INSTANCE_ID) is
    unique among the service's replicas, and the same after a restart with the same name.
    Two live replicas under one name (seen on Kafka 4.1 with aiokafka 0.14) keep replacing
    each other in the group, each rejoining after its heartbeat is refused, and both read
    the same partitions: the inbox keeps effects single, but the work is done twice.
    """
    return f"{replica}.{spec.name}.{consumer}"


async def validated_event(
    msg: StreamMessage[Any], default: Callable[[StreamMessage[Any]], Awaitable[Any]]
) -> Any:
    """A record's data as the consume pipeline validated it (`HANDLED_EVENT`), so FastStream
    neither parses nor validates it again (a model instance passes its check as it is); else
    FastStream's own decoding."""
    event = HANDLED_EVENT.get()
    return event if event is not None else await default(msg)


def _as_faststream_handler(subscription: Subscription) -> Callable[..., Awaitable[None]]:
    handler = subscription.handler

    async def consume(event: Any) -> None:
        await handler(event, HANDLED_ENVELOPE.get())  # the pipeline's, around this call

    # The payload type is set at runtime so FastStream validates it and documents it.
    consume.__annotations__ = {"event": subscription.event, "return": None}
    consume.__name__ = getattr(handler, "__name__", type(handler).__name__)
    consume.__qualname__ = consume.__name__
    return consume
