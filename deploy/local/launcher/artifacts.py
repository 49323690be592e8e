"""Downloads and builds kept under the cache folder, valid only while their inputs are unchanged."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deploy.local.launcher.errors import LauncherError
from deploy.local.launcher.logs import tail_text


@dataclass(frozen=True)
class CachedArtifact:
    """A folder of jars or a binary, with a stamp file holding the digest of its inputs."""

    path: Path
    stamp: Path
    digest: str

    def is_fresh(self) -> bool:
        try:
            return self.path.exists() and self.stamp.read_text(encoding="utf-8").strip() == self.digest
        except FileNotFoundError:
            return False

    def mark_fresh(self) -> None:
        self.stamp.write_text(self.digest + "\n", encoding="utf-8")


def sources_digest(*files: Path) -> str:
    """Fingerprint of an artifact's inputs, so editing any of them invalidates the cache."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def run_build_step(description: str, command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a download/build step and return its stdout; on failure show its output's tail."""
    result = subprocess.run(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise LauncherError(f"{description} failed (exit code {result.returncode})", tail_text(output))
    return result.stdout
