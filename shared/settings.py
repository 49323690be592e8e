"""Settings from the environment (pydantic-settings).

Infrastructure names are the ones of DESIGN §6 and are shared by every service
(`KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URI`, `KAFKA_*`, `MONGODB_*`, `JWT_*`, `LOG_*`):
each replica of each service reads them from its own environment, so an operator can
point one service at another cluster simply by deploying it with other values.
Everything a service owns is read under the service's own prefix, e.g. `INTAKE_HTTP_PORT`.
`DEMO_CLOCK_*` (shared/clock.py) is shared too: every process of a demo runs one clock.
`CAREPATH_ENV=production` makes settings refuse what is unsafe beyond a laptop
(shared/security/production.py); validation errors never echo the values given, which may
be secrets.
"""

from __future__ import annotations

import json
import ssl
import sys
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.clock import ClockSettings
from shared.events.registry import DEFAULT_PARTITIONS
from shared.security.field_encryption import EncryptionSettings
from shared.security.production import (
    DeploymentSettings,
    UnsafeSetting,
    refuse,
    unsafe_auth,
    unsafe_clock,
    unsafe_event_id_secret,
    unsafe_field_keys,
    unsafe_kafka,
)


def _listed(value: Any) -> Any:
    """A JSON list, or comma-separated text (`US,CA,GB`), as a list of its stripped items."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


TextList = Annotated[list[str], NoDecode, BeforeValidator(_listed)]
"""A list setting an operator writes as `a,b,c` (or a JSON list) in one environment variable."""


class KafkaSettings(BaseSettings):
    """Connection to Kafka, including TLS/SASL (DESIGN §8)."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore", hide_input_in_errors=True)

    bootstrap_servers: str = "127.0.0.1:9092"
    topic_partitions: int = Field(default=DEFAULT_PARTITIONS, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    topic_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Prepended to every topic name: isolates test runs or tenants on one cluster.",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    group_instance_id: Annotated[str | None, BeforeValidator(lambda value: value or None)] = Field(
        default=None,
        max_length=200,
        pattern=r"^[A-Za-z0-9._-]+$",
        description=(
            "This replica's stable name for Kafka static membership (KIP-345), e.g. a "
            "StatefulSet pod's name: the same across its restarts, unique among the service's "
            "live replicas. Each consumer's `group.instance.id` is derived from it "
            "(shared/messaging/subscriptions.py). Unset (or empty): dynamic membership."
        ),
    )

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.security_protocol not in ("SSL", "SASL_SSL"):
            return None
        context = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context


class MongoSettings(BaseSettings):
    """Connection to the MongoDB-wire server; TLS options can go in the URI or here."""

    model_config = SettingsConfigDict(env_prefix="MONGODB_", extra="ignore", hide_input_in_errors=True)

    uri: SecretStr = SecretStr("mongodb://127.0.0.1:27017/")
    tls_cafile: str | None = None
    server_selection_timeout_ms: int = Field(default=10_000, ge=100)

    def client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "tz_aware": True,
            "serverSelectionTimeoutMS": self.server_selection_timeout_ms,
        }
        if self.tls_cafile:
            options.update(tls=True, tlsCAFile=self.tls_cafile)
        return options


class AuthSettings(BaseSettings):
    """JWT verification: the identity provider's JWKS (production), a public key, or an HS256 secret (local).

    With `JWT_JWKS_URL` a token's `kid` picks its key from the provider's published set
    (shared/security/identity_provider.py): fetched again after `JWT_JWKS_CACHE_SECONDS`, or
    at once for an unknown kid but at most once per `JWT_JWKS_REFETCH_SECONDS`.
    """

    model_config = SettingsConfigDict(env_prefix="JWT_", extra="ignore", hide_input_in_errors=True)

    secret: SecretStr | None = None
    public_key: str | None = None
    jwks_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    jwks_cache_seconds: float = Field(default=300.0, gt=0)
    jwks_refetch_seconds: float = Field(default=30.0, ge=0)
    jwks_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    algorithm: Literal["HS256", "RS256", "ES256"] = "HS256"
    issuer: str = "carepath"
    audience: str = "carepath"
    leeway_seconds: int = Field(default=30, ge=0, le=300)

    @model_validator(mode="after")
    def _one_asymmetric_source_for_jwks(self) -> Self:
        if self.jwks_url and self.algorithm == "HS256":
            raise ValueError(
                "JWT_JWKS_URL needs JWT_ALGORITHM=RS256 or ES256: a provider's keys are asymmetric"
            )
        if self.jwks_url and self.public_key:
            raise ValueError("JWT_JWKS_URL and JWT_PUBLIC_KEY are both set: keep one")
        return self


class LogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOG_", extra="ignore")

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "json"


class ServiceSettings(BaseSettings):
    """What every service configures under its own prefix; subclass per service.

    A subclass sets `service_name` and `model_config = SettingsConfigDict(env_prefix=...)`.
    """

    service_name: ClassVar[str] = "service"
    # Inherited by every subclass: an error names the setting, never echoes the value given.
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8000, ge=1, le=65535)
    http_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    mongodb_database: str = ""
    consumer_group: str = ""
    # Consumption (DESIGN §4): bounded retries with exponential backoff, then a dead letter.
    retry_max_attempts: int = Field(default=5, ge=1, le=20)
    retry_initial_backoff_seconds: float = Field(default=0.2, gt=0)
    retry_max_backoff_seconds: float = Field(default=10.0, gt=0)
    # Group members per topic in one process, each with its own partitions. One is enough
    # for concurrency (each handles `consumer_in_flight` records at once); every member is a
    # heartbeat and a fetch a second or so, and one more member to join after a restart.
    consumers_per_topic: int = Field(default=1, ge=1, le=32)
    # Records one consumer handles at once, of distinct record keys (one client's or
    # therapist's events stay in order); 1 handles each partition strictly one at a time.
    consumer_in_flight: int = Field(default=32, ge=1, le=1024)
    # How often each group member tells the coordinator it is alive, and so learns of a
    # rebalance, and how long an idle member's fetch waits at the broker (records end it at
    # once). With one group per topic, a process runs dozens of members: at 250 ms and 500 ms
    # (aiokafka's fetch default) the four idle services cost 0.39-0.44 core, at 1 s and 2 s 0.28.
    consumer_heartbeat_interval_ms: int = Field(default=1000, ge=50, le=10_000)
    # A member that stops heartbeating (kill -9) leaves its groups this long after: a restarted
    # replica's join waits for that. 6 s is the broker's least (`group.min.session.timeout.ms`).
    consumer_session_timeout_ms: int = Field(default=6000, ge=1000, le=300_000)
    consumer_fetch_max_wait_ms: int = Field(default=2000, ge=10, le=30_000)
    # Handled offsets are committed this often (and on revocation and shutdown), not per record:
    # a redelivery of what was handled since is skipped by the inbox (shared/messaging/offsets.py).
    # The handled ids go to the inbox collection in one insert just before: at 10 intakes a
    # second, 0.5 s instead of 0.25 made that 0.19 inserts per intake and service, not 0.37.
    offset_commit_interval_seconds: float = Field(default=0.5, gt=0, le=60)
    # Per-document leases (DESIGN §4): a writer holds one for milliseconds; the lease
    # outlasts a slow live holder, while a dead holder is detected through its heartbeat.
    document_lease_seconds: float = Field(default=30.0, gt=0)
    document_lease_wait_seconds: float = Field(default=10.0, gt=0)
    # An idle lease stays this long for the next writer of the document in this process
    # (handed on with the document, for at most a second), then goes back (locks.py).
    document_lease_linger_seconds: float = Field(default=0.1, ge=0, le=5)
    liveness_interval_seconds: float = Field(default=1.0, gt=0)
    liveness_timeout_seconds: float = Field(default=3.0, gt=0)
    # Outbox relay and durable timers.
    relay_poll_interval_seconds: float = Field(default=0.5, gt=0)
    relay_lease_seconds: float = Field(default=30.0, gt=0)
    # A write names its document to its own relay; a sweep (a scan on FerretDB) finds what
    # a dead replica left: at start, when a replica's heartbeat runs out, and this often.
    relay_sweep_interval_seconds: float = Field(default=3600.0, gt=0)
    relay_concurrency: int = Field(default=16, ge=1, le=256)
    # A write publishes its own events while it holds the document's lease (the relay then
    # only catches up after failures and dead replicas); off leaves every event to the relay.
    relay_inline: bool = True
    # Sent outbox entries are removed this long after their inline publish, many in one write,
    # or by the document's next write here if it comes first (outbox.py, "Removal later"); 0
    # removes each at once, one write more per write with events.
    relay_removal_delay_seconds: float = Field(default=0.5, ge=0, le=2)
    timer_poll_interval_seconds: float = Field(default=1.0, gt=0)
    # A replica fires the timers it scheduled from memory; a sweep (a scan on FerretDB)
    # finds the others: at start, when a replica's heartbeat runs out, and this often.
    timer_sweep_interval_seconds: float = Field(default=60.0, gt=0)
    timer_lease_seconds: float = Field(default=60.0, gt=0)
    timer_max_attempts: int = Field(default=10, ge=1)
    # Due timers one replica fires at once (each its own document and lease).
    timer_concurrency: int = Field(default=16, ge=1, le=256)
    # On SIGTERM: open HTTP requests get `http_shutdown_grace_seconds`, then the event in
    # hand gets `shutdown_grace_seconds` to finish and commit. With Kubernetes' 5 s preStop
    # pause the sum stays inside the 45 s termination grace period of deploy/k8s.
    http_shutdown_grace_seconds: float = Field(default=10.0, gt=0)
    # How long a starting replica waits for Kafka before giving up (and exiting).
    startup_timeout_seconds: float = Field(default=60.0, gt=0)
    shutdown_grace_seconds: float = Field(default=25.0, gt=0)
    # Housekeeping: stale leases are dropped every `housekeeping_interval_seconds`;
    # handled-event ids are kept `inbox_retention_days` (past Kafka's retention).
    housekeeping_interval_seconds: float = Field(default=60.0, gt=0)
    inbox_retention_days: float = Field(default=30.0, gt=0)
    inbox_prune_interval_seconds: float = Field(default=3600.0, gt=0)

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    mongo: MongoSettings = Field(default_factory=MongoSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    encryption: EncryptionSettings = Field(default_factory=EncryptionSettings)
    clock: ClockSettings = Field(default_factory=ClockSettings)
    deployment: DeploymentSettings = Field(default_factory=DeploymentSettings)

    def unsafe_settings(self) -> list[UnsafeSetting]:
        """What `CAREPATH_ENV=production` refuses here; a service extends it with its own knobs."""
        return [
            *unsafe_auth(self.auth),
            *unsafe_kafka(self.kafka),
            *unsafe_field_keys(self.encryption),
            *unsafe_clock(self.clock),
            *unsafe_event_id_secret(self.deployment),
        ]

    @model_validator(mode="after")
    def _safe_for_production(self) -> Self:
        """In production the service stops here, naming each unsafe variable (its value never shown)."""
        if self.deployment.env == "production":
            refuse(self.unsafe_settings())
        return self

    @property
    def database_name(self) -> str:
        return self.mongodb_database or f"carepath_{self.service_name}"

    @property
    def group_id(self) -> str:
        return self.consumer_group or f"{self.kafka.topic_prefix}carepath-{self.service_name}"

    @property
    def source(self) -> str:
        """The CloudEvents `source` of every event this service produces."""
        return f"/carepath/{self.service_name}"


Settings = TypeVar("Settings", bound=ServiceSettings)


def load_or_exit(settings_type: type[Settings]) -> Settings:
    """A service's settings for its `__main__`, or exit 2 with one line saying why (no traceback).

    What an operator needs is which variable to fix (a refusal in production, a served
    country without crisis resources, a malformed value), not a stack of pydantic frames.
    """
    try:
        return settings_type()
    except ValidationError as error:
        prefix = _env_prefixes(settings_type).get(error.title, "")
        reasons = "; ".join(_reason(prefix, item["loc"], item["msg"]) for item in error.errors())
        print(f"{settings_type.service_name} cannot start: {reasons}", file=sys.stderr)
        raise SystemExit(2) from None


def _env_prefixes(settings_type: type[ServiceSettings]) -> dict[str, str]:
    """The env prefix of the settings class and of each settings group it holds, by class name.

    A group (`KafkaSettings`, ...) reads the environment on its own, so its errors arrive
    titled with its class and located by its field alone.
    """
    groups = [settings_type] + [
        field.annotation
        for field in settings_type.model_fields.values()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseSettings)
    ]
    return {group.__name__: str(group.model_config.get("env_prefix", "")) for group in groups}


def _reason(prefix: str, loc: tuple[int | str, ...], message: str) -> str:
    """`KAFKA_SECURITY_PROTOCOL: Input should be ...`; a check of the whole group speaks for itself."""
    message = message.removeprefix("Value error, ")
    if not loc:
        return message
    return f"{prefix}{loc[0]}".upper() + f": {message}"
