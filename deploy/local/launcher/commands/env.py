"""`env`: addresses and the Kafka login clients need, as KEY=VALUE lines (also run/infra.env)."""

from __future__ import annotations

from deploy.local.launcher import kafka_users
from deploy.local.launcher.errors import EXIT_OK
from deploy.local.launcher.settings import Settings


def env_lines(settings: Settings, export: bool = False) -> str:
    """Valid for `source`, `set -a`, dotenv loaders and docker --env-file alike."""
    prefix = "export " if export else ""
    values = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap,
        "MONGODB_URI": settings.mongodb_uri,
        # Tools and tests log in as the super user; services get their own users (kafka_users.py).
        **kafka_users.client_environment(kafka_users.ADMIN),
        kafka_users.ACLS_VARIABLE: "on",
    }
    return "".join(f"{prefix}{name}={value}\n" for name, value in values.items())


def write_env_file(settings: Settings) -> None:
    settings.layout.env_file.write_text(env_lines(settings), encoding="utf-8")


def cmd_env(settings: Settings, export: bool) -> int:
    """Addresses for the configured ports, whether or not the servers are up (nothing is probed)."""
    print(env_lines(settings, export), end="")
    return EXIT_OK
