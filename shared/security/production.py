"""What `CAREPATH_ENV=production` refuses at start (DESIGN §8).

In production a service stops while its settings load, before it binds a port or meets a
broker, when they would let someone in where they do not belong: a secret published in
this repository (the development defaults of the Makefile, docker-compose.yml and the
local sinks, recognised by value and listed once, here), an HS256 key short enough to
guess offline from one token, Kafka without authentication or without TLS, a demo clock.
A service adds its own checks (notifications: SMTP without TLS, no on-call rota) by
extending `ServiceSettings.unsafe_settings`. Each refusal names the environment variable
to fix, never its value.

Development, the default, refuses none of this: `make run`, `make test` and compose run on
the published defaults, which say they are for development.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import SecretStr
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from shared.clock import ClockSettings
    from shared.security.field_encryption import EncryptionSettings
    from shared.settings import AuthSettings, KafkaSettings

# Secrets committed for development (Makefile, docker-compose.yml, deploy/local/sinks.py, the
# local broker's Kafka users).
# Anyone can read them, so they protect nothing: with the JWT secret anyone mints an admin
# token, with the field key anyone decrypts a database dump. Production refuses them by value
# in every secret setting it checks. tests/unit/shared/test_production_settings.py reads
# those files and fails when a committed secret is missing here.
PUBLISHED_SECRETS: frozenset[str] = frozenset(
    {
        "carepath-local-development-secret-do-not-use-in-production",  # JWT_SECRET
        "carepath-local-provider-secret-do-not-use-in-production",  # NOTIFICATIONS_PROVIDER_SIGNING_SECRET
        "carepath-local-event-id-secret-do-not-use-in-production",  # CAREPATH_EVENT_ID_SECRET
        # KAFKA_SASL_PASSWORD of the local broker's users (deploy/local/launcher/kafka_users.py)
        "carepath-local-kafka-admin-do-not-use-in-production",
        "carepath-local-kafka-intake-do-not-use-in-production",
        "carepath-local-kafka-matching-do-not-use-in-production",
        "carepath-local-kafka-scheduling-do-not-use-in-production",
        "carepath-local-kafka-notifications-do-not-use-in-production",
    }
)
# FIELD_ENCRYPTION_KEYS material (base64, compared decoded, whatever its key id).
PUBLISHED_FIELD_KEYS: frozenset[str] = frozenset({"fq75Ylyaec7u9/RYYeE8Rkhqj9KjW8XxFHjOn2QV7VY="})

# RFC 7518 §3.2: an HS256 key at least as long as the hash (32 bytes); a shorter one falls to
# an offline search from a single token.
MIN_HS256_SECRET_BYTES = 32
PUBLISHED = "is a development secret published in this repository"


class DeploymentSettings(BaseSettings):
    """`CAREPATH_ENV`: `development` (laptops, CI, compose) or `production` (refuses unsafe settings).

    `CAREPATH_EVENT_ID_SECRET` is read here only to be checked: `shared.events.envelope` derives
    ids with the same variable itself (the events package depends on no settings library).
    """

    model_config = SettingsConfigDict(env_prefix="CAREPATH_", extra="ignore", hide_input_in_errors=True)

    env: Literal["development", "production"] = "development"
    event_id_secret: SecretStr | None = None


@dataclass(frozen=True, slots=True)
class UnsafeSetting:
    """One refusal: the environment variable to change and why, never the value."""

    variable: str
    reason: str

    def __str__(self) -> str:
        return f"{self.variable} {self.reason}"


def env_name(settings: BaseSettings, field: str) -> str:
    """The environment variable `settings.field` is read from, e.g. `NOTIFICATIONS_SMTP_SECURITY`."""
    return f"{settings.model_config.get('env_prefix', '')}{field}".upper()


def is_published_secret(value: SecretStr | str | None) -> bool:
    """Whether `value` is one of the development secrets this repository publishes."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is not None and value.strip() in PUBLISHED_SECRETS


def refuse(unsafe: Iterable[UnsafeSetting]) -> None:
    """Raise one validation error naming every unsafe setting, so an operator fixes them all at once."""
    found = [str(item) for item in unsafe]
    if found:
        raise PydanticCustomError(
            "unsafe_for_production",
            "refusing to start with CAREPATH_ENV=production: {reasons}",
            {"reasons": "; ".join(found)},
        )


def unsafe_auth(auth: AuthSettings) -> list[UnsafeSetting]:
    """A published or short HS256 secret, or no way to verify a token at all."""
    secret_var, unsafe = env_name(auth, "secret"), []
    if is_published_secret(auth.secret):
        unsafe.append(UnsafeSetting(secret_var, PUBLISHED))
    if auth.jwks_url:
        if not auth.jwks_url.startswith("https://"):
            unsafe.append(
                UnsafeSetting(
                    env_name(auth, "jwks_url"),
                    "must be https: keys fetched in clear text can be swapped on the way",
                )
            )
    elif auth.algorithm == "HS256":
        if auth.secret is None:
            unsafe.append(
                UnsafeSetting(secret_var, "is not set (or set JWT_JWKS_URL to the identity provider's keys)")
            )
        elif len(auth.secret.get_secret_value().encode()) < MIN_HS256_SECRET_BYTES:
            unsafe.append(UnsafeSetting(secret_var, f"is shorter than {MIN_HS256_SECRET_BYTES} bytes"))
    elif not auth.public_key:
        unsafe.append(
            UnsafeSetting(env_name(auth, "public_key"), f"is not set (needed for {auth.algorithm})")
        )
    return unsafe


def unsafe_event_id_secret(deployment: DeploymentSettings) -> list[UnsafeSetting]:
    """A key for derived event ids that a forger knows or can guess.

    With it anyone who can write to Kafka computes a genuine event's id in advance and has
    the inboxes drop the real event as a duplicate of a forgery. Unset, ids fall back to the
    published development key, so unset is refused too.
    """
    variable = env_name(deployment, "event_id_secret")
    secret = deployment.event_id_secret.get_secret_value() if deployment.event_id_secret else ""
    if not secret.strip():
        return [UnsafeSetting(variable, "is not set (give every service of the deployment the same one)")]
    if is_published_secret(secret):
        return [UnsafeSetting(variable, PUBLISHED)]
    if len(secret.encode()) < MIN_HS256_SECRET_BYTES:
        return [UnsafeSetting(variable, f"is shorter than {MIN_HS256_SECRET_BYTES} bytes")]
    return []


def unsafe_kafka(kafka: KafkaSettings) -> list[UnsafeSetting]:
    """Kafka that anyone who reaches it may write to, or that carries events in clear text."""
    protocol = env_name(kafka, "security_protocol")
    if kafka.security_protocol == "PLAINTEXT":
        return [
            UnsafeSetting(
                protocol,
                "is PLAINTEXT: anyone who reaches the brokers reads and writes every topic; "
                "use SASL_SSL with this service's own user",
            )
        ]
    if kafka.security_protocol == "SASL_PLAINTEXT":
        return [
            UnsafeSetting(protocol, "is SASL_PLAINTEXT: events cross the network in clear text; use SASL_SSL")
        ]
    if kafka.security_protocol == "SSL":
        if not kafka.ssl_certfile:
            return [
                UnsafeSetting(
                    env_name(kafka, "ssl_certfile"),
                    "is not set: TLS without a client certificate authenticates no one",
                )
            ]
        return []
    unsafe = []
    if is_published_secret(kafka.sasl_password):
        unsafe.append(UnsafeSetting(env_name(kafka, "sasl_password"), PUBLISHED))
    if not kafka.sasl_username:
        unsafe.append(UnsafeSetting(env_name(kafka, "sasl_username"), "is not set"))
    if kafka.sasl_password is None or not kafka.sasl_password.get_secret_value():
        unsafe.append(UnsafeSetting(env_name(kafka, "sasl_password"), "is not set"))
    return unsafe


def unsafe_field_keys(encryption: EncryptionSettings) -> list[UnsafeSetting]:
    """A published AES key among the field keys, active or kept for old values alike."""
    if encryption.keys is None:
        return []  # a service that encrypts refuses to start without keys on its own
    published = {base64.b64decode(key) for key in PUBLISHED_FIELD_KEYS}
    for item in encryption.keys.get_secret_value().split(","):
        try:
            material = base64.b64decode(item.strip().partition(":")[2])
        except (binascii.Error, ValueError):
            continue  # malformed: FieldCipher says so when it loads the keys
        if material in published:
            return [
                UnsafeSetting(
                    env_name(encryption, "keys"),
                    "holds the development key published in this repository: it decrypts "
                    "whatever it sealed; make your own (python -m shared.security.field_encryption new-key)",
                )
            ]
    return []


def unsafe_clock(clock: ClockSettings) -> list[UnsafeSetting]:
    """A demo clock would move every appointment and timer of real people."""
    if clock.accelerated:
        return [UnsafeSetting(env_name(clock, "speed"), "is above 1: the demo clock is for demos only")]
    return []
