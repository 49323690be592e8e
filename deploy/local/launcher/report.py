"""How the launcher talks: progress on stderr, so stdout stays shell-sourceable."""

from __future__ import annotations

import sys

PREFIX = "carepath launcher: "


def say(message: str) -> None:
    print(f"{PREFIX}{message}", file=sys.stderr, flush=True)
