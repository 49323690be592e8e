"""Who may do what on Kafka: each service its own principal, its own topics and groups (DESIGN §8).

Derived from the topic registry, so a new event or subscriber changes the ACLs with it:

- a service writes the topics it produces, and the dead-letter topics of what it consumes;
- it reads the topics it consumes, in consumer groups under its own group id
  (`<prefix>carepath-<service>.`, `ServiceSettings.group_id`);
- it may create those topics (a replica creates what is missing at start), nothing else.

Pure rules: the local broker gets them from `shared/messaging/kafka_grants.py`, Kubernetes from
the Strimzi `KafkaUser`s in `deploy/k8s/kafka/`, which a test keeps equal to these.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.events.registry import EVENTS, dead_letter_topic

REPLAY_USER = "dlq-replay"
"""The operator's principal for `python -m shared.messaging.replay` (docs/RUNBOOK.md)."""
REPLAY_GROUP = "carepath-dlq-replay"  # shared/messaging/replay.py's consumer group


class Resource(StrEnum):
    topic = "topic"
    group = "group"


class Pattern(StrEnum):
    literal = "literal"
    prefix = "prefix"


class Operation(StrEnum):
    read = "Read"
    write = "Write"
    describe = "Describe"
    create = "Create"


@dataclass(frozen=True, slots=True)
class AclRule:
    """Allow `principal` the `operations` on the resources `name` matches (by `pattern`)."""

    principal: str
    resource: Resource
    name: str
    pattern: Pattern
    operations: tuple[Operation, ...]


PRODUCE = (Operation.write, Operation.describe, Operation.create)
CONSUME = (Operation.read, Operation.describe, Operation.create)
READ = (Operation.read, Operation.describe)
WRITE = (Operation.write, Operation.describe)


def principal_of(service: str) -> str:
    """The Kafka principal a service authenticates as: its SCRAM user name."""
    return f"User:{service}"


def produced_topics(service: str) -> list[str]:
    return [spec.name for spec in EVENTS if spec.producer == service]


def consumed_topics(service: str) -> list[str]:
    return [spec.name for spec in EVENTS if service in spec.consumers]


def service_acls(service: str, *, topic_prefix: str = "") -> list[AclRule]:
    """Everything `service` may do on Kafka, for topics under `topic_prefix` (tests isolate by it)."""
    principal = principal_of(service)
    writes = [*produced_topics(service), *(dead_letter_topic(name) for name in consumed_topics(service))]
    rules = [
        AclRule(principal, Resource.topic, f"{topic_prefix}{name}", Pattern.literal, PRODUCE)
        for name in writes
    ]
    rules += [
        AclRule(principal, Resource.topic, f"{topic_prefix}{name}", Pattern.literal, CONSUME)
        for name in consumed_topics(service)
    ]
    if consumed_topics(service):
        group = f"{topic_prefix}carepath-{service}."
        rules.append(AclRule(principal, Resource.group, group, Pattern.prefix, (Operation.read,)))
    return rules


def replay_acls(*, topic_prefix: str = "") -> list[AclRule]:
    """What the dead-letter replay may do: read every `.dlq`, write the topic each came from.

    An operator's tool, run by hand after a fix: it republishes a dead letter unchanged, so
    its `ce_source` is still the producer's and consumers accept it as before.
    """
    principal = principal_of(REPLAY_USER)
    rules = [
        AclRule(
            principal, Resource.topic, f"{topic_prefix}{dead_letter_topic(spec.name)}", Pattern.literal, READ
        )
        for spec in EVENTS
    ]
    rules += [
        AclRule(principal, Resource.topic, f"{topic_prefix}{spec.name}", Pattern.literal, WRITE)
        for spec in EVENTS
    ]
    rules.append(
        AclRule(
            principal, Resource.group, f"{topic_prefix}{REPLAY_GROUP}", Pattern.literal, (Operation.read,)
        )
    )
    return rules
