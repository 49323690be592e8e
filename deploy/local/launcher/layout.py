"""Where the launcher's inputs (committed) and state (git-ignored) live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SOURCES = Path(__file__).resolve().parent.parent  # deploy/local
REPO_ROOT = SOURCES.parent.parent
KAFKA_SOURCES = SOURCES / "kafka"
FERRETDB_SOURCES = SOURCES / "ferretdb"


@dataclass(frozen=True)
class Layout:
    """The state directory's folders and files; the cache may be shared between several."""

    root: Path
    cache: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def env_file(self) -> Path:
        return self.run / "infra.env"

    @property
    def lock_file(self) -> Path:
        return self.root / "launcher.lock"

    def pid_file(self, server: str) -> Path:
        return self.run / f"{server}.pid"

    def log_file(self, server: str) -> Path:
        return self.logs / f"{server}.log"

    def create(self) -> None:
        for folder in (self.cache, self.data, self.run, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
