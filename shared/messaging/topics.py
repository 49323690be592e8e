"""Create the topics a service needs, with the configured partitions (DESIGN §3)."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.messaging.broker import kafka_connection_options
from shared.settings import KafkaSettings


async def ensure_topics(kafka: KafkaSettings, names: Iterable[str]) -> None:
    """Create each missing topic (prefix applied); callers name the `.dlq` topics they need."""
    wanted = {kafka.topic(name) for name in names}
    admin = AIOKafkaAdminClient(**kafka_connection_options(kafka))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = sorted(wanted - existing)
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
    finally:
        await admin.close()
