"""Give each service its Kafka access on a broker with ACLs: topics created, ACLs granted.

`make run`, `make demo` and the tests that run services as processes call `grant_service_access`
as the super user before starting services under their own users (the local launcher's broker
allows nothing without an ACL); docker compose runs it once as a one-shot container:

    KAFKA_SASL_USERNAME=admin KAFKA_SASL_PASSWORD=... python -m shared.messaging.kafka_grants

The rules themselves are `shared/messaging/acls.py`; Kubernetes grants them through Strimzi
`KafkaUser`s instead. Granting is idempotent: Kafka keeps one copy of an ACL created twice.

aiokafka's admin client has no ACL call, so CreateAcls (v1) is sent with its protocol classes.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.admin import (
    CreateAclsRequest,
    CreateAclsRequest_v1,
    DeleteAclsRequest,
    DeleteAclsRequest_v1,
    DescribeAclsRequest,
)

from shared.events.registry import all_topics
from shared.messaging.acls import AclRule, Operation, Pattern, Resource, service_acls
from shared.messaging.broker import kafka_connection_options
from shared.messaging.topics import create_missing
from shared.settings import KafkaSettings

SERVICES = ("intake", "matching", "scheduling", "notifications")

# Kafka's wire codes (org.apache.kafka.common.acl / resource).
_RESOURCE = {Resource.topic: 2, Resource.group: 3}
_PATTERN = {Pattern.literal: 3, Pattern.prefix: 4}
_OPERATION = {Operation.read: 3, Operation.write: 4, Operation.create: 5, Operation.describe: 8}
_ALLOW = 3
_ANY_HOST = "*"
_ANY = 1
_EVERY_ACL = (_ANY, None, _ANY, None, None, _ANY, _ANY)  # a DescribeAcls filter matching all
IN_FORCE_TIMEOUT_SECONDS = 30.0

Creation = tuple[int, str, int, str, str, int, int]


class _CreateAcls(CreateAclsRequest):  # type: ignore[misc]
    """CreateAcls with many creations in one request (aiokafka's class sends one)."""

    def __init__(self, creations: list[Creation]) -> None:
        self._creations = creations

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class(self._creations)


class _DeleteAcls(DeleteAclsRequest):  # type: ignore[misc]
    """DeleteAcls with many filters in one request (aiokafka's class sends one)."""

    def __init__(self, filters: list[tuple[int, str, int, None, None, int, int]]) -> None:
        self._filters = filters

    def build(self, request_struct_class: type[DeleteAclsRequest_v1]) -> DeleteAclsRequest_v1:
        return request_struct_class(self._filters)


def creations(rules: Iterable[AclRule]) -> list[Creation]:
    """One CreateAcls v1 creation per rule and operation."""
    return [
        (
            _RESOURCE[rule.resource],
            rule.name,
            _PATTERN[rule.pattern],
            rule.principal,
            _ANY_HOST,
            _OPERATION[op],
            _ALLOW,
        )
        for rule in rules
        for op in rule.operations
    ]


async def grant_service_access(kafka: KafkaSettings, services: Iterable[str] = SERVICES) -> None:
    """As the super user in `kafka`: create every topic under its prefix, then each service's ACLs."""
    admin = AIOKafkaAdminClient(**kafka_connection_options(kafka), client_id="carepath-kafka-access")
    await admin.start()
    try:
        await create_missing(admin, kafka, {kafka.topic(name) for name in all_topics()})
        rules = [
            rule for service in services for rule in service_acls(service, topic_prefix=kafka.topic_prefix)
        ]
        wanted_acls = creations(rules)
        response = await admin._send_request(_CreateAcls(wanted_acls))
        for error_code, message in response.creation_responses:
            if error_code:
                raise for_code(error_code)(f"could not create a Kafka ACL: {message}")
        await _until_in_force(admin, wanted_acls, node_id=response_node(admin))
    finally:
        await admin.close()


def response_node(admin: AIOKafkaAdminClient) -> int:
    """The one broker every request of this admin client goes to (a single-node local broker)."""
    return int(admin._client.get_random_node())


async def _until_in_force(admin: AIOKafkaAdminClient, wanted: list[Creation], *, node_id: int) -> None:
    """Wait until the broker's authorizer lists every ACL: CreateAcls answers once the controller
    has them, and a client connecting the next millisecond can still be refused."""
    pending = set(wanted)
    deadline = asyncio.get_running_loop().time() + IN_FORCE_TIMEOUT_SECONDS
    while True:
        response = await admin._send_request(DescribeAclsRequest(*_EVERY_ACL), node_id)
        pending -= {
            (resource_type, name, pattern, principal, host, operation, permission)
            for resource_type, name, pattern, acls in response.resources
            for principal, host, operation, permission in acls
        }
        if not pending:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(
                f"{len(pending)} Kafka ACLs were not in force after {IN_FORCE_TIMEOUT_SECONDS} s"
            )
        await asyncio.sleep(0.05)


async def revoke_service_access(kafka: KafkaSettings, services: Iterable[str] = SERVICES) -> None:
    """Remove what `grant_service_access` granted under `kafka.topic_prefix` (a test's topics go too)."""
    rules = [rule for service in services for rule in service_acls(service, topic_prefix=kafka.topic_prefix)]
    resources = sorted({(_RESOURCE[rule.resource], rule.name, _PATTERN[rule.pattern]) for rule in rules})
    admin = AIOKafkaAdminClient(**kafka_connection_options(kafka), client_id="carepath-kafka-access")
    await admin.start()
    try:
        await admin._send_request(
            _DeleteAcls([(kind, name, pattern, None, None, _ANY, _ANY) for kind, name, pattern in resources])
        )
    finally:
        await admin.close()


def grant_service_access_now(kafka: KafkaSettings) -> None:
    """`grant_service_access` from synchronous code, even inside a running event loop."""
    _in_a_thread(lambda: grant_service_access(kafka))


def revoke_service_access_now(kafka: KafkaSettings) -> None:
    """`revoke_service_access` from synchronous code, even inside a running event loop."""
    _in_a_thread(lambda: revoke_service_access(kafka))


def _in_a_thread(call: Callable[[], Coroutine[Any, Any, None]]) -> None:
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(call())
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=run, name="kafka-access")
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


def main() -> int:
    """Grant as the super user in the environment; a refusal is one line naming Kafka's reason."""
    settings = KafkaSettings()
    try:
        asyncio.run(grant_service_access(settings))
    except (KafkaError, TimeoutError) as error:
        print(
            f"kafka: could not grant the services' ACLs on {settings.bootstrap_servers}: {error!r}",
            file=sys.stderr,
        )
        return 1
    print(f"kafka: topics exist and every service's ACLs are granted on {settings.bootstrap_servers}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
