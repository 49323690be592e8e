"""Each service's Kafka ACLs follow the topic registry: its own events out, its subscriptions in."""

from __future__ import annotations

from deploy.local.launcher import kafka_users
from shared.events.registry import EVENTS, dead_letter_topic
from shared.messaging.acls import Operation, Pattern, Resource, service_acls
from shared.security.production import is_published_secret

SERVICES = ("intake", "matching", "scheduling", "notifications")


def written_by(service: str, prefix: str = "") -> set[str]:
    return {
        rule.name
        for rule in service_acls(service, topic_prefix=prefix)
        if rule.resource is Resource.topic and Operation.write in rule.operations
    }


def read_by(service: str) -> set[str]:
    return {
        rule.name
        for rule in service_acls(service)
        if rule.resource is Resource.topic and Operation.read in rule.operations
    }


def test_a_service_writes_only_the_events_it_produces_and_the_dead_letters_of_what_it_consumes() -> None:
    for service in SERVICES:
        produced = {spec.name for spec in EVENTS if spec.producer == service}
        dead_letters = {dead_letter_topic(spec.name) for spec in EVENTS if service in spec.consumers}
        assert written_by(service) == produced | dead_letters


def test_no_service_may_write_an_event_another_service_produces() -> None:
    for spec in EVENTS:
        writers = [service for service in SERVICES if spec.name in written_by(service)]
        assert writers == [spec.producer]


def test_a_service_reads_exactly_its_subscriptions() -> None:
    for service in SERVICES:
        assert read_by(service) == {spec.name for spec in EVENTS if service in spec.consumers}


def test_consumer_groups_are_confined_to_the_services_own_group_id_under_the_test_prefix() -> None:
    groups = [
        rule for rule in service_acls("matching", topic_prefix="t1-") if rule.resource is Resource.group
    ]
    assert [(g.name, g.pattern, g.operations) for g in groups] == [
        ("t1-carepath-matching.", Pattern.prefix, (Operation.read,))
    ]
    assert written_by("matching", "t1-") == {f"t1-{name}" for name in written_by("matching")}


def test_production_refuses_every_published_kafka_password_of_the_local_broker() -> None:
    assert all(is_published_secret(password) for password in kafka_users.development_passwords())
