"""Derived event ids: the same everywhere in one deployment, unguessable without its secret."""

from __future__ import annotations

import uuid
from typing import ClassVar

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from shared.clock import ClockSettings
from shared.events.envelope import (
    DEVELOPMENT_EVENT_ID_SECRET,
    EVENT_ID_SECRET_VARIABLE,
    deterministic_event_id,
    new_event,
)
from shared.security.field_encryption import EncryptionSettings, new_key
from shared.security.production import DeploymentSettings, is_published_secret, unsafe_event_id_secret
from shared.settings import AuthSettings, KafkaSettings, ServiceSettings
from tests.support.kafka import check_in_due

ONE = "a-deployment-key-for-derived-event-ids-of-its-own"
ANOTHER = "another-deployment-key-for-derived-event-ids-entirely"


def test_the_same_secret_derives_the_same_id_from_the_same_parts() -> None:
    assert deterministic_event_id("cause-1", "session-booked", secret=ONE) == deterministic_event_id(
        "cause-1", "session-booked", secret=ONE
    )


def test_two_secrets_derive_different_ids_from_the_same_parts() -> None:
    assert deterministic_event_id("cause-1", "session-booked", secret=ONE) != deterministic_event_id(
        "cause-1", "session-booked", secret=ANOTHER
    )


def test_a_derived_id_is_a_uuid_that_names_no_namespace_anyone_could_compute() -> None:
    derived = uuid.UUID(deterministic_event_id("timer", "t-1", "2026-12-06T10:00:00+00:00", secret=ONE))
    assert derived.version == 8 and derived.variant == uuid.RFC_4122
    # What the committed UUIDv5 namespace gave before: a forger's precomputed id matches no more.
    namespace = uuid.UUID("6f1c2a52-8f0e-4d59-9a43-5b8d3c1e7a10")
    assert derived != uuid.uuid5(namespace, "\x1f".join(("timer", "t-1", "2026-12-06T10:00:00+00:00")))


def test_ids_follow_the_deployments_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    cause = new_event(check_in_due()).envelope
    monkeypatch.setenv(EVENT_ID_SECRET_VARIABLE, ONE)
    first = new_event(check_in_due(), source="intake", cause=cause).envelope.id
    again = new_event(check_in_due(), source="intake", cause=cause).envelope.id
    monkeypatch.setenv(EVENT_ID_SECRET_VARIABLE, ANOTHER)
    elsewhere = new_event(check_in_due(), source="intake", cause=cause).envelope.id

    assert first == again == deterministic_event_id(cause.id, "check-in-due", "", secret=ONE)
    assert elsewhere != first


def test_without_a_secret_ids_derive_from_the_published_development_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(EVENT_ID_SECRET_VARIABLE, raising=False)
    assert deterministic_event_id("a", "b") == deterministic_event_id(
        "a", "b", secret=DEVELOPMENT_EVENT_ID_SECRET
    )
    assert is_published_secret(DEVELOPMENT_EVENT_ID_SECRET)


def test_an_event_without_a_given_source_is_sent_as_its_producer_in_the_registry() -> None:
    assert new_event(check_in_due()).envelope.source == "/carepath/scheduling"


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        (None, "is not set"),
        ("  ", "is not set"),
        (DEVELOPMENT_EVENT_ID_SECRET, "is a development secret published in this repository"),
        ("short-but-not-published", "is shorter than 32 bytes"),
    ],
)
def test_production_refuses_an_event_id_secret_a_forger_knows_or_guesses(
    secret: str | None, why: str
) -> None:
    deployment = DeploymentSettings(
        env="production", event_id_secret=SecretStr(secret) if secret is not None else None
    )
    (unsafe,) = unsafe_event_id_secret(deployment)
    assert unsafe.variable == "CAREPATH_EVENT_ID_SECRET" and why in unsafe.reason
    assert secret is None or not secret.strip() or secret not in str(unsafe)


class ProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "probe"
    model_config = SettingsConfigDict(env_prefix="PROBE_")


def production_settings(event_id_secret: str | None) -> ProbeSettings:
    return ProbeSettings(
        auth=AuthSettings(secret=SecretStr("a-production-secret-of-more-than-thirty-two-bytes")),
        kafka=KafkaSettings(
            security_protocol="SASL_SSL", sasl_username="probe", sasl_password=SecretStr("probe-password")
        ),
        encryption=EncryptionSettings(keys=SecretStr(f"k1:{new_key()}"), active_key="k1"),
        clock=ClockSettings(),
        deployment=DeploymentSettings(
            env="production", event_id_secret=SecretStr(event_id_secret) if event_id_secret else None
        ),
    )


def test_a_service_in_production_starts_only_with_an_event_id_secret_of_its_deployment() -> None:
    assert production_settings(ONE).deployment.event_id_secret is not None
    with pytest.raises(ValidationError, match="CAREPATH_EVENT_ID_SECRET is not set"):
        production_settings(None)
    with pytest.raises(ValidationError, match="CAREPATH_EVENT_ID_SECRET is a development secret") as caught:
        production_settings(DEVELOPMENT_EVENT_ID_SECRET)
    assert DEVELOPMENT_EVENT_ID_SECRET not in str(caught.value)
