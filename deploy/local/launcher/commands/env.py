"""`env`: the addresses clients need, as KEY=VALUE lines (also written to run/infra.env by `up`)."""

from __future__ import annotations

from deploy.local.launcher.errors import EXIT_OK
from deploy.local.launcher.settings import Settings


def env_lines(settings: Settings, export: bool = False) -> str:
    """Valid for `source`, `set -a`, dotenv loaders and docker --env-file alike."""
    prefix = "export " if export else ""
    return (
        f"{prefix}KAFKA_BOOTSTRAP_SERVERS={settings.kafka_bootstrap}\n"
        f"{prefix}MONGODB_URI={settings.mongodb_uri}\n"
    )


def write_env_file(settings: Settings) -> None:
    settings.layout.env_file.write_text(env_lines(settings), encoding="utf-8")


def cmd_env(settings: Settings, export: bool) -> int:
    """Addresses for the configured ports, whether or not the servers are up (nothing is probed)."""
    print(env_lines(settings, export), end="")
    return EXIT_OK
