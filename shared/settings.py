"""Settings from the environment (pydantic-settings).

Infrastructure names are the ones of DESIGN §6 and are shared by every service
(`KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URI`, `KAFKA_*`, `MONGODB_*`, `JWT_*`, `LOG_*`):
each replica of each service reads them from its own environment, so an operator can
point one service at another cluster simply by deploying it with other values.
Everything a service owns is read under the service's own prefix, e.g. `INTAKE_HTTP_PORT`.
`DEMO_CLOCK_*` (shared/clock.py) is shared too: every process of a demo runs one clock.
"""

from __future__ import annotations

import json
import ssl
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.clock import ClockSettings
from shared.events.registry import DEFAULT_PARTITIONS
from shared.security.field_encryption import EncryptionSettings


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

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

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

    model_config = SettingsConfigDict(env_prefix="MONGODB_", extra="ignore")

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
    """JWT verification: HS256 with a shared secret (local), or RS256/ES256 with a public key."""

    model_config = SettingsConfigDict(env_prefix="JWT_", extra="ignore")

    secret: SecretStr | None = None
    public_key: str | None = None
    algorithm: Literal["HS256", "RS256", "ES256"] = "HS256"
    issuer: str = "carepath"
    audience: str = "carepath"
    leeway_seconds: int = Field(default=30, ge=0, le=300)


class LogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOG_", extra="ignore")

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "json"


class ServiceSettings(BaseSettings):
    """What every service configures under its own prefix; subclass per service.

    A subclass sets `service_name` and `model_config = SettingsConfigDict(env_prefix=...)`.
    """

    service_name: ClassVar[str] = "service"

    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8000, ge=1, le=65535)
    http_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    mongodb_database: str = ""
    consumer_group: str = ""
    # Consumption (DESIGN §4): bounded retries with exponential backoff, then a dead letter.
    retry_max_attempts: int = Field(default=5, ge=1, le=20)
    retry_initial_backoff_seconds: float = Field(default=0.2, gt=0)
    retry_max_backoff_seconds: float = Field(default=10.0, gt=0)
    # Partition-level concurrency: this many consumers per topic in one process, each
    # handling its own partitions in order (so commits never pass a failed record).
    consumers_per_topic: int = Field(default=2, ge=1, le=32)
    # Per-document leases (DESIGN §4): a writer holds one for milliseconds; the lease
    # outlasts a slow live holder, while a dead holder is detected through its heartbeat.
    document_lease_seconds: float = Field(default=30.0, gt=0)
    document_lease_wait_seconds: float = Field(default=10.0, gt=0)
    liveness_interval_seconds: float = Field(default=1.0, gt=0)
    liveness_timeout_seconds: float = Field(default=3.0, gt=0)
    # Outbox relay and durable timers.
    relay_poll_interval_seconds: float = Field(default=0.5, gt=0)
    relay_lease_seconds: float = Field(default=30.0, gt=0)
    # A write names its document to its own relay; a sweep (a scan on FerretDB) finds what
    # a dead replica left: at start, when a replica's heartbeat runs out, and this often.
    relay_sweep_interval_seconds: float = Field(default=60.0, gt=0)
    relay_concurrency: int = Field(default=16, ge=1, le=256)
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
