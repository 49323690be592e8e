"""One launcher at a time per state folder, and one builder at a time per cache.

Parallel test runs may all call `up` at once; several state folders may share one cache
(CAREPATH_CACHE_DIR), so downloads and builds take the cache's own lock.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from deploy.local.launcher.layout import Layout
from deploy.local.launcher.report import say


@contextmanager
def launcher_lock(layout: Layout) -> Iterator[None]:
    """Serialise up/down/clean on one state folder."""
    with file_lock(layout.lock_file, "another launcher is busy in this state directory; waiting for it..."):
        yield


@contextmanager
def cache_lock(layout: Layout) -> Iterator[None]:
    """Serialise downloads and builds into one cache."""
    with file_lock(layout.cache / ".lock", "another launcher is filling the shared cache; waiting for it..."):
        yield


@contextmanager
def file_lock(path: Path, waiting: str) -> Iterator[None]:
    """An flock: it goes with the process, so a crash never leaves it held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        if not try_lock(handle):
            say(waiting)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
