"""Settings: shared infrastructure variables, per-service prefixes, TLS/SASL mapping."""

from __future__ import annotations

from typing import ClassVar

import pytest
from faststream.security import SASLScram512
from pydantic_settings import SettingsConfigDict

from shared.messaging.broker import broker_security
from shared.settings import KafkaSettings, ServiceSettings


class IntakeLikeSettings(ServiceSettings):
    service_name: ClassVar[str] = "intake"
    model_config = SettingsConfigDict(env_prefix="INTAKE_")


def test_service_settings_use_their_prefix_and_shared_infrastructure_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTAKE_HTTP_PORT", "8001")
    monkeypatch.setenv("INTAKE_RETRY_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("MONGODB_URI", "mongodb://db:27017/")
    settings = IntakeLikeSettings()
    assert settings.http_port == 8001 and settings.retry_max_attempts == 7
    assert settings.kafka.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert settings.mongo.uri.get_secret_value() == "mongodb://db:27017/"
    assert settings.database_name == "carepath_intake"
    assert settings.group_id == "carepath-intake"
    assert settings.source == "/carepath/intake"


def test_plaintext_kafka_needs_no_security_object() -> None:
    assert broker_security(KafkaSettings()) is None


def test_sasl_scram_over_tls_maps_to_faststream_security() -> None:
    security = broker_security(
        KafkaSettings(
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="intake",
            sasl_password="s3cret",
        )
    )
    assert isinstance(security, SASLScram512)
    assert security.use_ssl and security.ssl_context is not None


def test_topic_prefix_isolates_topics() -> None:
    assert KafkaSettings(topic_prefix="staging.").topic("session-booked") == "staging.session-booked"
