"""KAFKA_GROUP_INSTANCE_ID: one static id per consumer, unset by default (no broker needed)."""

from __future__ import annotations

import warnings

import pytest
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import ValidationError

from shared.events.envelope import Envelope
from shared.events.models import CheckInDue, RiskFlagged
from shared.messaging.subscriptions import Subscription, group_for, subscribe
from shared.settings import KafkaSettings


async def on_check_in_due(event: CheckInDue, envelope: Envelope) -> None:
    """Opens the check-in."""


async def on_risk_flagged(event: RiskFlagged, envelope: Envelope) -> None:
    """Pages the on-call clinician."""


SUBSCRIPTIONS = [Subscription(CheckInDue, on_check_in_due), Subscription(RiskFlagged, on_risk_flagged)]


def registered(kafka: KafkaSettings, consumers_per_topic: int) -> KafkaBroker:
    broker = KafkaBroker()
    subscribe(
        broker, SUBSCRIPTIONS, kafka=kafka, group_id="carepath-x", consumers_per_topic=consumers_per_topic
    )
    return broker


def static_ids(broker: KafkaBroker) -> list[tuple[str, str | None]]:
    # FastStream keeps the consumer's arguments until it starts; the id is one of them.
    return sorted(
        (subscriber.group_id, subscriber._connection_args["group_instance_id"])  # type: ignore[attr-defined]
        for subscriber in broker.subscribers
    )


def test_without_a_replica_name_each_subscription_is_one_subscriber_of_dynamic_members() -> None:
    broker = registered(KafkaSettings(), consumers_per_topic=2)
    assert static_ids(broker) == [("carepath-x.check-in-due", None), ("carepath-x.risk-flagged", None)]


def test_a_replica_name_gives_every_consumer_of_every_group_its_own_static_id() -> None:
    broker = registered(KafkaSettings(group_instance_id="carepath-intake-1"), consumers_per_topic=2)
    assert static_ids(broker) == [
        ("carepath-x.check-in-due", "carepath-intake-1.check-in-due.0"),
        ("carepath-x.check-in-due", "carepath-intake-1.check-in-due.1"),
        ("carepath-x.risk-flagged", "carepath-intake-1.risk-flagged.0"),
        ("carepath-x.risk-flagged", "carepath-intake-1.risk-flagged.1"),
    ]
    assert (
        group_for("carepath-x", Subscription(CheckInDue, on_check_in_due).spec) == "carepath-x.check-in-due"
    )


def test_the_asyncapi_document_lists_each_consumed_topic_once_with_static_members() -> None:
    broker = registered(KafkaSettings(group_instance_id="replica-0"), consumers_per_topic=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FastStream warns when two operations share a name
        document = AsyncAPI(broker, title="x", version="1").to_specification().to_jsonable()
    receives = [op for op in document["operations"].values() if op["action"] == "receive"]
    assert len(receives) == 2


@pytest.mark.parametrize("name", ["carepath-intake-0", "intake-2", "pod.name_1"])
def test_a_pod_or_replica_name_is_a_valid_replica_name(name: str) -> None:
    assert KafkaSettings(group_instance_id=name).group_instance_id == name


def test_an_empty_replica_name_means_dynamic_membership() -> None:
    assert KafkaSettings(group_instance_id="").group_instance_id is None


@pytest.mark.parametrize("name", ["intake 0", "intake/0", "x" * 201])
def test_a_replica_name_kafka_would_refuse_is_refused_at_start(name: str) -> None:
    with pytest.raises(ValidationError, match="group_instance_id"):
        KafkaSettings(group_instance_id=name)
