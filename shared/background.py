"""Pacing for background loops (outbox relay, timer worker), and when they sweep.

Loops end on `stop()` rather than on task cancellation alone: on Python 3.11,
`asyncio.wait_for` can swallow a cancellation that races with its inner future, which
once left a relay running after shutdown. `asyncio.timeout` does not have that flaw.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress


class Pacer:
    """Sleeps between passes, wakes early when nudged, and says when to stop."""

    def __init__(self, interval_seconds: float) -> None:
        self.interval_seconds = interval_seconds
        self._nudged = asyncio.Event()
        self._stopped = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    def nudge(self) -> None:
        self._nudged.set()

    def stop(self) -> None:
        self._stopped = True
        self._nudged.set()

    async def pause(self, seconds: float | None = None) -> None:
        """Wait `seconds` (default: the interval) or until nudged or stopped."""
        with suppress(TimeoutError):
            async with asyncio.timeout(seconds if seconds is not None else self.interval_seconds):
                await self._nudged.wait()
        if not self._stopped:
            self._nudged.clear()


class SweepSchedule:
    """When a loop that works from hints should also sweep (a scan on FerretDB): at its
    first pass, after `soon()` (a peer died, a pass failed), and every `interval_seconds`."""

    def __init__(self, interval_seconds: float) -> None:
        self.interval_seconds = interval_seconds
        self._swept_at: float | None = None

    @property
    def due(self) -> bool:
        return self._swept_at is None or time.monotonic() - self._swept_at >= self.interval_seconds

    def done(self) -> None:
        self._swept_at = time.monotonic()

    def soon(self) -> None:
        self._swept_at = None
