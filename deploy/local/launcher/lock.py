"""One launcher at a time per state folder: parallel test runs may all call `up` at once."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from deploy.local.launcher.layout import Layout
from deploy.local.launcher.report import say


@contextmanager
def launcher_lock(layout: Layout) -> Iterator[None]:
    """Serialise up/down/clean; the lock goes with the process, so a crash never leaves it held."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with layout.lock_file.open("a") as handle:
        if not try_lock(handle):
            say("another launcher is busy in this state directory; waiting for it...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
