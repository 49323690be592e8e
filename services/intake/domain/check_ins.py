"""When a check-in expires as missed, and how many the client has missed in a row.

A check-in stays open for a while after it fell due (`INTAKE_CHECK_IN_EXPIRY_DAYS`); then
it is missed. The therapist is to be prompted when a client keeps missing them
(notifications does so at two in a row), so each miss counts itself and the misses right
before it; an answered check-in breaks the run. An earlier check-in still pending past
its own deadline counts as missed: its own expiry may simply not have been written yet
(two timers fire side by side), and it can no longer be answered either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

CheckInStatus = Literal["pending", "completed", "missed"]


@dataclass(frozen=True, slots=True)
class EarlierCheckIn:
    status: CheckInStatus
    due_at: datetime


def expires_at(due_at: datetime, expiry: timedelta) -> datetime:
    return due_at + expiry


def consecutive_missed(earlier: Sequence[EarlierCheckIn], *, expiry: timedelta, now: datetime) -> int:
    """This miss plus the misses right before it; `earlier` is newest first."""
    run = 1
    for check_in in earlier:
        lapsed = check_in.status == "pending" and expires_at(check_in.due_at, expiry) <= now
        if check_in.status != "missed" and not lapsed:
            break
        run += 1
    return run
