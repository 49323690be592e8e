"""The operator's booking policy, as plain values the commands read (built from settings)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class Policy:
    video_base_url: str = "https://video.carepath.example/room"
    # Off by default: the client chooses (accepts a candidate or books one of their slots).
    # On, a proposal's best fitting candidate is booked at once, which grants them nothing.
    book_at_once: bool = False
    series_horizon: timedelta = timedelta(days=28)
    series_extend_every: timedelta = timedelta(days=7)
    series_max_shift: timedelta = timedelta(days=3)
    late_cancel_window: timedelta = timedelta(hours=24)
    claim_orphan_grace: timedelta = timedelta(minutes=5)
    # How many free slots one booking tries to claim before it gives up on a therapist
    # (others may be claiming the same slots at the same moment).
    claim_attempts: int = 8
