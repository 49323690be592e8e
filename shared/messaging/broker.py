"""The FastStream Kafka broker every service uses: acks=all, idempotent, TLS/SASL-ready."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from shared.settings import KafkaSettings


def broker_security(kafka: KafkaSettings) -> BaseSecurity | None:
    """Map the TLS/SASL settings onto FastStream's security objects (DESIGN §8)."""
    context = kafka.ssl_context()
    if kafka.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
        username = kafka.sasl_username or ""
        use_ssl = kafka.security_protocol == "SASL_SSL"
        mechanism = {
            "PLAIN": SASLPlaintext,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }[kafka.sasl_mechanism or "PLAIN"]
        return mechanism(username, password, ssl_context=context, use_ssl=use_ssl)
    if context is not None:
        return BaseSecurity(ssl_context=context, use_ssl=True)
    return None


def kafka_connection_options(kafka: KafkaSettings) -> dict[str, Any]:
    """aiokafka client options for tools that talk to Kafka without FastStream (admin, replay)."""
    return {
        "bootstrap_servers": kafka.bootstrap_servers,
        "security_protocol": kafka.security_protocol,
        "ssl_context": kafka.ssl_context(),
        "sasl_mechanism": kafka.sasl_mechanism or "PLAIN",
        "sasl_plain_username": kafka.sasl_username,
        "sasl_plain_password": kafka.sasl_password.get_secret_value() if kafka.sasl_password else None,
    }


def kafka_options_at(bootstrap_servers: str) -> dict[str, Any]:
    """Options for a tool given only an address: the login (`KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`)
    comes from the environment, as for every service."""
    return kafka_connection_options(KafkaSettings(bootstrap_servers=bootstrap_servers))


def build_broker(
    kafka: KafkaSettings,
    *,
    client_id: str,
    middlewares: Sequence[Any] = (),
    graceful_timeout: float = 25.0,
) -> KafkaBroker:
    """A broker whose publishes count only once every in-sync replica has them.

    `graceful_timeout` makes a stopping subscriber wait for the message in hand, so
    SIGTERM drains in-flight work and commits before exit (DESIGN §4).
    """
    return KafkaBroker(
        kafka.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        client_id=client_id,
        security=broker_security(kafka),
        middlewares=middlewares,
        graceful_timeout=graceful_timeout,
        logger=logging.getLogger(f"faststream.{client_id}"),
        log_level=logging.DEBUG,
    )
