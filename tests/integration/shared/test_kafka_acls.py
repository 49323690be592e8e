"""On a broker with ACLs each service is its own Kafka user and may touch only its own topics.

The local launcher's broker authenticates every client (SASL/SCRAM-SHA-512) and authorizes
every request (KRaft StandardAuthorizer, nothing allowed without an ACL). These tests log in
as the services themselves, with the ACLs `make run` and the end-to-end suites grant
(`shared/messaging/acls.py`), and try what a compromised or buggy service would.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)
from pydantic import SecretStr

from deploy.local.launcher import kafka_users
from shared.messaging.broker import kafka_connection_options
from shared.messaging.kafka_grants import grant_service_access, revoke_service_access
from shared.settings import KafkaSettings
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import drop_topics, isolated


@pytest.fixture
async def granted(infrastructure: Infrastructure) -> AsyncIterator[KafkaSettings]:
    """Topics under a prefix of their own, with every service's ACLs granted on them."""
    if not infrastructure.kafka_acls:
        pytest.skip(f"the broker from {infrastructure.origin} has no per-service Kafka users")
    kafka = isolated(infrastructure.kafka_bootstrap_servers)
    await grant_service_access(kafka)
    yield kafka
    await revoke_service_access(kafka)
    await drop_topics(kafka)


def login_of(kafka: KafkaSettings, user: str, password: str | None = None) -> KafkaSettings:
    login = kafka_users.client_environment(user)
    return kafka.model_copy(
        update={
            "security_protocol": login["KAFKA_SECURITY_PROTOCOL"],
            "sasl_mechanism": login["KAFKA_SASL_MECHANISM"],
            "sasl_username": user,
            "sasl_password": SecretStr(password or login["KAFKA_SASL_PASSWORD"]),
        }
    )


async def produce(kafka: KafkaSettings, topic: str) -> None:
    producer = AIOKafkaProducer(**kafka_connection_options(kafka), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(kafka.topic(topic), b"{}", key=b"client-1")
    finally:
        await producer.stop()


async def test_intake_may_not_produce_session_booked_which_only_scheduling_produces(
    granted: KafkaSettings,
) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(login_of(granted, "intake"), "session-booked")


async def test_each_service_produces_its_own_events_and_the_dead_letters_of_what_it_consumes(
    granted: KafkaSettings,
) -> None:
    await produce(login_of(granted, "intake"), "intake-completed")
    await produce(login_of(granted, "scheduling"), "session-booked")
    await produce(login_of(granted, "intake"), "session-booked.dlq")  # intake consumes session-booked
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(login_of(granted, "matching"), "risk-flagged.dlq")  # matching does not consume it


async def test_a_service_reads_only_its_subscriptions_and_only_in_its_own_groups(
    granted: KafkaSettings,
) -> None:
    intake = login_of(granted, "intake")
    own_group = f"{granted.topic_prefix}carepath-intake.session-booked"
    for topic, group, refused in (
        ("notification-delivered", own_group, (TopicAuthorizationFailedError, UnknownTopicOrPartitionError)),
        (
            "session-booked",
            f"{granted.topic_prefix}carepath-matching.session-booked",
            GroupAuthorizationFailedError,
        ),
    ):
        consumer = AIOKafkaConsumer(
            granted.topic(topic),
            **kafka_connection_options(intake),
            group_id=group,
            auto_offset_reset="earliest",
        )
        with pytest.raises(refused):
            await consumer.start()
            await consumer.getmany(timeout_ms=5000)
        await consumer.stop()


async def test_a_wrong_password_is_refused_at_login(granted: KafkaSettings) -> None:
    with pytest.raises(KafkaConnectionError):
        await produce(login_of(granted, "intake", password=f"not-it-{uuid.uuid4().hex}"), "intake-completed")
