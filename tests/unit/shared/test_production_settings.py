"""`CAREPATH_ENV=production` refuses unsafe settings at start, naming the variable, never its value."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from deploy.local.sinks import DEVELOPMENT_SECRET as SINKS_SECRET
from shared.clock import ClockSettings
from shared.http import mint_token as mint_token_cli
from shared.http.auth import Role, TokenError, mint_token
from shared.security.field_encryption import EncryptionSettings, new_key
from shared.security.production import DeploymentSettings, is_published_secret, unsafe_field_keys
from shared.settings import AuthSettings, KafkaSettings, ServiceSettings, load_or_exit

REPO = Path(__file__).resolve().parents[3]
DEV_JWT_SECRET = "carepath-local-development-secret-do-not-use-in-production"
DEV_FIELD_KEYS = "dev1:fq75Ylyaec7u9/RYYeE8Rkhqj9KjW8XxFHjOn2QV7VY="
STRONG_SECRET = "a-production-secret-of-more-than-thirty-two-bytes"
EVENT_ID_SECRET = "a-deployment-key-for-derived-event-ids-of-its-own"
SECRET_VARIABLE = re.compile(r"(SECRET|PASSWORD|_KEYS)$")


class ProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "probe"
    model_config = SettingsConfigDict(env_prefix="PROBE_")


def safe(**overrides: Any) -> dict[str, Any]:
    """Settings production accepts, each group given explicitly (the test run's environment holds
    the development defaults `make test` exports); `overrides` replaces whole groups."""
    return {
        "auth": AuthSettings(secret=SecretStr(STRONG_SECRET)),
        "kafka": KafkaSettings(
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="probe",
            sasl_password=SecretStr("probe-password"),
        ),
        "encryption": EncryptionSettings(keys=SecretStr(f"k1:{new_key()}"), active_key="k1"),
        "clock": ClockSettings(),
        "deployment": DeploymentSettings(env="production", event_id_secret=SecretStr(EVENT_ID_SECRET)),
        **overrides,
    }


def refusal(**overrides: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        ProbeSettings(**safe(**overrides))
    return str(caught.value)


def test_production_accepts_authenticated_kafka_a_long_secret_and_a_key_of_its_own() -> None:
    assert ProbeSettings(**safe()).deployment.env == "production"


def test_development_accepts_the_published_defaults() -> None:
    settings = ProbeSettings(
        **safe(
            auth=AuthSettings(secret=SecretStr(DEV_JWT_SECRET)),
            kafka=KafkaSettings(),
            encryption=EncryptionSettings(keys=SecretStr(DEV_FIELD_KEYS), active_key="dev1"),
            deployment=DeploymentSettings(),
        )
    )
    assert settings.deployment.env == "development"


def test_production_refuses_the_published_jwt_secret_naming_the_variable_not_the_value() -> None:
    message = refusal(auth=AuthSettings(secret=SecretStr(DEV_JWT_SECRET)))
    assert "JWT_SECRET is a development secret published in this repository" in message
    assert DEV_JWT_SECRET not in message


def test_production_refuses_an_hs256_secret_shorter_than_32_bytes() -> None:
    message = refusal(auth=AuthSettings(secret=SecretStr("x" * 31)))
    assert "JWT_SECRET is shorter than 32 bytes" in message
    ProbeSettings(**safe(auth=AuthSettings(secret=SecretStr("x" * 32))))


def test_production_refuses_to_start_without_any_way_to_verify_tokens() -> None:
    assert "JWT_SECRET is not set" in refusal(auth=AuthSettings(secret=None))
    assert "JWT_PUBLIC_KEY is not set" in refusal(auth=AuthSettings(secret=None, algorithm="RS256"))


def test_production_takes_tokens_from_an_https_jwks_with_no_secret_at_all() -> None:
    jwks = {"secret": None, "algorithm": "RS256"}
    ProbeSettings(**safe(auth=AuthSettings(jwks_url="https://idp.example/jwks.json", **jwks)))
    message = refusal(auth=AuthSettings(jwks_url="http://idp.example/jwks.json", **jwks))
    assert "JWT_JWKS_URL must be https" in message


@pytest.mark.parametrize(
    ("kafka_values", "variable"),
    [
        ({}, "KAFKA_SECURITY_PROTOCOL is PLAINTEXT"),
        (
            dict(security_protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password="p"),
            "KAFKA_SECURITY_PROTOCOL is SASL_PLAINTEXT",
        ),
        (dict(security_protocol="SSL"), "KAFKA_SSL_CERTFILE is not set"),
        (dict(security_protocol="SASL_SSL"), "KAFKA_SASL_USERNAME is not set"),
        (
            dict(security_protocol="SASL_SSL", sasl_username="probe"),
            "KAFKA_SASL_PASSWORD is not set",
        ),
        (
            dict(security_protocol="SASL_SSL", sasl_username="probe", sasl_password=DEV_JWT_SECRET),
            "KAFKA_SASL_PASSWORD is a development secret",
        ),
    ],
)
def test_production_refuses_kafka_without_authentication_or_tls(
    kafka_values: dict[str, str], variable: str
) -> None:
    assert variable in refusal(kafka=KafkaSettings(**kafka_values))


def test_production_accepts_kafka_with_a_client_certificate() -> None:
    ProbeSettings(**safe(kafka=KafkaSettings(security_protocol="SSL", ssl_certfile="/etc/kafka/probe.pem")))


def test_production_refuses_the_published_field_key_under_any_key_id_even_retired() -> None:
    published = DEV_FIELD_KEYS.partition(":")[2]
    keys = SecretStr(f"k2:{new_key()},old:{published}")
    message = refusal(encryption=EncryptionSettings(keys=keys, active_key="k2"))
    assert "FIELD_ENCRYPTION_KEYS holds the development key" in message
    assert published not in message


def test_production_refuses_a_demo_clock() -> None:
    fast = ClockSettings(speed=60, epoch="2026-01-01T00:00:00+00:00")
    assert "DEMO_CLOCK_SPEED is above 1" in refusal(clock=fast)


def test_one_refusal_names_every_unsafe_variable_at_once() -> None:
    message = refusal(auth=AuthSettings(secret=SecretStr(DEV_JWT_SECRET)), kafka=KafkaSettings())
    assert "JWT_SECRET" in message and "KAFKA_SECURITY_PROTOCOL" in message


def test_every_secret_committed_for_development_is_refused_in_production() -> None:
    """The published list stays whole: each secret default of the Makefile, compose and the sinks."""
    makefile = (REPO / "Makefile").read_text()
    compose = (REPO / "docker-compose.yml").read_text()
    committed = {
        *re.findall(r"^export ([A-Z_]+) \?= (\S+)", makefile, flags=re.MULTILINE),
        *re.findall(r"\$\{([A-Z_]+):-([^}]+)\}", compose),
        ("NOTIFICATIONS_PROVIDER_SIGNING_SECRET", SINKS_SECRET),
    }
    secrets = {(name, value) for name, value in committed if SECRET_VARIABLE.search(name)}
    assert {name for name, _ in secrets} >= {
        "JWT_SECRET",
        "FIELD_ENCRYPTION_KEYS",
        "NOTIFICATIONS_PROVIDER_SIGNING_SECRET",
    }
    for name, value in secrets:
        if name == "FIELD_ENCRYPTION_KEYS":
            assert unsafe_field_keys(EncryptionSettings(keys=SecretStr(value))), name
        else:
            assert is_published_secret(value), f"{name}'s committed default is missing from PUBLISHED_SECRETS"


def test_settings_errors_never_echo_the_values_given() -> None:
    with pytest.raises(ValidationError) as caught:
        AuthSettings(secret=SecretStr(STRONG_SECRET), jwks_url="https://idp.example/jwks", algorithm="HS256")
    assert STRONG_SECRET not in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        ProbeSettings(**safe(), http_port="not-a-port-but-maybe-a-secret")
    assert "not-a-port-but-maybe-a-secret" not in str(caught.value)


def test_jwks_needs_an_asymmetric_algorithm_in_every_environment() -> None:
    with pytest.raises(ValidationError, match="JWT_ALGORITHM=RS256 or ES256"):
        AuthSettings(jwks_url="https://idp.example/jwks.json")


def test_a_service_that_cannot_start_says_why_in_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAREPATH_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", DEV_JWT_SECRET)
    monkeypatch.setenv("PROBE_HTTP_PORT", "99999")
    with pytest.raises(SystemExit) as exited:
        load_or_exit(ProbeSettings)
    assert exited.value.code == 2
    printed = capsys.readouterr().err
    assert printed.startswith("probe cannot start: PROBE_HTTP_PORT: Input should be")
    assert printed.count("\n") == 1 and DEV_JWT_SECRET not in printed


def test_a_refusal_in_production_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAREPATH_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", DEV_JWT_SECRET)
    with pytest.raises(SystemExit):
        load_or_exit(ProbeSettings)
    printed = capsys.readouterr().err
    assert "JWT_SECRET is a development secret" in printed and printed.count("\n") == 1


def test_make_token_refuses_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREPATH_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", STRONG_SECRET)
    assert mint_token_cli.main([]) == 2


def test_no_token_is_minted_locally_when_services_verify_the_providers_tokens() -> None:
    provider = AuthSettings(
        secret=SecretStr(STRONG_SECRET), jwks_url="https://idp.example/jwks.json", algorithm="RS256"
    )
    with pytest.raises(TokenError, match="identity provider"):
        mint_token(provider, subject="local-admin", role=Role.admin)
