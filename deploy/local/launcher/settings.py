"""Everything configurable through the environment, validated once (deploy/local/README.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deploy.local.launcher.errors import LauncherError
from deploy.local.launcher.layout import REPO_ROOT, Layout

LOOPBACK = "127.0.0.1"
BACKENDS = ("ferretdb", "mongod")


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    cache_dir: Path
    kafka_port: int
    controller_port: int
    mongo_port: int
    partitions: int
    heap: str
    mongo_backend: str | None  # None: mongod if on the PATH, else FerretDB

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        state_dir = Path(environ.get("CAREPATH_LOCAL_DIR") or REPO_ROOT / ".local")
        cache_dir = Path(environ.get("CAREPATH_CACHE_DIR") or state_dir / "cache")
        backend = environ.get("CAREPATH_MONGO_BACKEND", "").strip().lower() or None
        if backend is not None and backend not in BACKENDS:
            raise LauncherError(f"CAREPATH_MONGO_BACKEND must be 'ferretdb' or 'mongod', not {backend!r}")
        heap = environ.get("CAREPATH_KAFKA_HEAP", "1g").strip()
        if not re.fullmatch(r"[1-9][0-9]*[kKmMgG]?", heap):
            raise LauncherError(f"CAREPATH_KAFKA_HEAP must look like 512m or 1g, not {heap!r}")
        settings = cls(
            state_dir=state_dir.expanduser().resolve(),
            cache_dir=cache_dir.expanduser().resolve(),
            kafka_port=env_int(environ, "CAREPATH_KAFKA_PORT", 9092, 1, 65535),
            controller_port=env_int(environ, "CAREPATH_KAFKA_CONTROLLER_PORT", 9093, 1, 65535),
            mongo_port=env_int(environ, "CAREPATH_MONGO_PORT", 27017, 1, 65535),
            partitions=env_int(environ, "CAREPATH_KAFKA_PARTITIONS", 6, 1, 1000),
            heap=heap,
            mongo_backend=backend,
        )
        ports = (settings.kafka_port, settings.controller_port, settings.mongo_port)
        if len(set(ports)) != len(ports):
            raise LauncherError(f"the Kafka, Kafka controller and MongoDB ports must differ, got {ports}")
        return settings

    @property
    def layout(self) -> Layout:
        return Layout(self.state_dir, self.cache_dir)

    @property
    def kafka_bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.kafka_port}"

    @property
    def mongodb_uri(self) -> str:
        return f"mongodb://{LOOPBACK}:{self.mongo_port}/"

    @property
    def port_names(self) -> dict[int, str]:
        """Which variable sets each port, so a message can say how to move it."""
        return {
            self.kafka_port: "CAREPATH_KAFKA_PORT",
            self.controller_port: "CAREPATH_KAFKA_CONTROLLER_PORT",
            self.mongo_port: "CAREPATH_MONGO_PORT",
        }


def env_int(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """Parse an integer setting, naming the variable when it is wrong."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise LauncherError(f"{name} must be an integer, not {raw!r}") from None
    if not low <= value <= high:
        raise LauncherError(f"{name} must be between {low} and {high}, not {value}")
    return value
