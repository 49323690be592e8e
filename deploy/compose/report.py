"""What the compose driver prints: one prefixed line per step, with the time each took."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

PREFIX = "carepath compose: "


class ComposeError(RuntimeError):
    """A step that cannot go on; the message says which and why, for a person to act on."""


def say(message: str) -> None:
    print(f"{PREFIX}{message}", file=sys.stderr, flush=True)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Announce a step, then its duration (or that it failed, and after how long)."""
    say(f"{name}...")
    started = time.monotonic()
    try:
        yield
    except BaseException:
        say(f"{name}: failed after {time.monotonic() - started:.0f} s")
        raise
    say(f"{name}: done in {time.monotonic() - started:.1f} s")
