"""The operator's booking policy, as plain values the commands read (built from settings)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class Policy:
    video_base_url: str = "https://video.carepath.example/room"
    book_at_once: bool = True
    series_horizon: timedelta = timedelta(days=28)
    series_extend_every: timedelta = timedelta(days=7)
    series_max_shift: timedelta = timedelta(days=3)
    check_in_interval_days: int = 14
    late_cancel_window: timedelta = timedelta(hours=24)
    claim_orphan_grace: timedelta = timedelta(minutes=5)
    # How many free slots one booking tries to claim before it gives up on a therapist
    # (others may be claiming the same slots at the same moment).
    claim_attempts: int = 8
