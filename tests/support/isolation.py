"""A place of a test's own on the shared servers: topics under a unique prefix and a database.

Module- and session-scoped fixtures that run a whole service use it, so every one of them
cleans up the same way: the database dropped and the topics deleted once the service stops.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr
from pymongo import AsyncMongoClient

from shared.settings import KafkaSettings, MongoSettings
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import drop_topics, isolated


@dataclass(frozen=True)
class Place:
    kafka: KafkaSettings
    mongo: MongoSettings
    database: str


@asynccontextmanager
async def isolated_place(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any], name: str
) -> AsyncIterator[Place]:
    place = Place(
        kafka=isolated(infrastructure.kafka_bootstrap_servers),
        mongo=MongoSettings(uri=SecretStr(infrastructure.mongodb_uri)),
        database=f"test_{name}_{uuid.uuid4().hex[:12]}",
    )
    try:
        yield place
    finally:
        await mongo_client.drop_database(place.database)
        await drop_topics(place.kafka)
