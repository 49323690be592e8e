"""Notifications in production: e-mail over TLS, a provider secret of its own, someone to page."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from services.notifications.settings import NotificationsSettings
from shared.security.field_encryption import EncryptionSettings
from shared.security.production import DeploymentSettings
from shared.settings import AuthSettings, KafkaSettings

PUBLISHED_PROVIDER_SECRET = "carepath-local-provider-secret-do-not-use-in-production"


def production(**overrides: Any) -> NotificationsSettings:
    given: dict[str, Any] = {
        "auth": AuthSettings(secret=SecretStr("a-production-secret-of-more-than-thirty-two-bytes")),
        "kafka": KafkaSettings(
            security_protocol="SASL_SSL", sasl_username="notifications", sasl_password=SecretStr("pw")
        ),
        # Explicit: `make test` exports the development field key.
        "encryption": EncryptionSettings(keys=None, active_key=None),
        "deployment": DeploymentSettings(
            env="production", event_id_secret=SecretStr("a-deployment-key-for-derived-event-ids-of-its-own")
        ),
        "smtp_security": "starttls",
        "provider_webhook_url": "https://sms.example/messages",
        "provider_signing_secret": SecretStr("a-provider-secret-of-its-own"),
        "on_call_rota": ["oncall-1"],
        **overrides,
    }
    return NotificationsSettings(**given)


def refusal(**overrides: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        production(**overrides)
    return str(caught.value)


def test_production_accepts_tls_mail_an_https_provider_and_an_on_call_rota() -> None:
    assert production().on_call_rota == ["oncall-1"]


def test_production_refuses_smtp_without_tls() -> None:
    assert "NOTIFICATIONS_SMTP_SECURITY is none" in refusal(smtp_security="none")


def test_production_refuses_tls_to_an_unchecked_mail_server() -> None:
    assert "NOTIFICATIONS_SMTP_VALIDATE_CERTS is false" in refusal(smtp_validate_certs=False)


def test_production_refuses_the_published_provider_signing_secret() -> None:
    message = refusal(provider_signing_secret=SecretStr(PUBLISHED_PROVIDER_SECRET))
    assert "NOTIFICATIONS_PROVIDER_SIGNING_SECRET is a development secret" in message
    assert PUBLISHED_PROVIDER_SECRET not in message


def test_production_refuses_a_provider_webhook_over_plain_http() -> None:
    assert "NOTIFICATIONS_PROVIDER_WEBHOOK_URL must be https" in refusal(
        provider_webhook_url="http://sms.example/messages"
    )


def test_production_refuses_an_empty_on_call_rota() -> None:
    assert "NOTIFICATIONS_ON_CALL_ROTA is empty" in refusal(on_call_rota=[])


def test_development_runs_on_the_local_sinks() -> None:
    settings = production(
        deployment=DeploymentSettings(),
        smtp_security="none",
        provider_webhook_url="http://127.0.0.1:8025/messages",
        provider_signing_secret=SecretStr(PUBLISHED_PROVIDER_SECRET),
        on_call_rota=[],
    )
    assert settings.deployment.env == "development"
