"""Server logs: a fresh one per start, and their last lines when something fails."""

from __future__ import annotations

import os
from pathlib import Path

TAIL_LINES = 25


def tail_text(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def tail_file(path: Path, lines: int = TAIL_LINES) -> str:
    """Only the end of the file is read: a broker log can be large."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            return tail_text(handle.read().decode("utf-8", errors="replace"), lines)
    except FileNotFoundError:
        return "(no log file)"


def rotate_log(path: Path) -> None:
    """Keep the previous run's log as <name>.log.1, so a fresh start has a clean log to read."""
    if path.exists():
        path.replace(path.with_name(path.name + ".1"))
