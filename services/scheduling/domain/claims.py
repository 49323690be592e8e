"""The claim grid: which cells of a therapist's time a session takes, and their unique keys.

Double booking is made impossible by claims, not by reading first: a session (with its
buffers) takes every 5-minute cell of the therapist's time it touches, each cell one
insert of a document with the unique `_id` `therapist:cell_start` (DESIGN §5). Two
sessions whose padded intervals overlap share at least one cell, and only one insert of
that `_id` can succeed, on MongoDB and on FerretDB alike. Edges are rounded outward, so a
claim never covers less than its session; availability keeps every duration and window on
the grid, so it never covers more either. A daily cap is claimed the same way: ordinals
`therapist:day:date:n` for n = 1..cap.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.scheduling.domain.local_time import EPOCH as _EPOCH  # where `micros` counts from
from services.scheduling.domain.local_time import MICROS_PER_MINUTE

CELL_MINUTES = 5
CELL = timedelta(minutes=CELL_MINUTES)
CELL_MICROS = CELL_MINUTES * MICROS_PER_MINUTE


def floor_cell(instant: datetime) -> datetime:
    return _EPOCH + CELL * ((instant - _EPOCH) // CELL)


def ceil_cell(instant: datetime) -> datetime:
    floored = floor_cell(instant)
    return floored if floored == instant else floored + CELL


def floor_cell_micros(instant: int) -> int:
    """`floor_cell` on microseconds since the grid's epoch (`local_time.micros`): no datetimes."""
    return instant // CELL_MICROS * CELL_MICROS


def ceil_cell_micros(instant: int) -> int:
    """`ceil_cell` on microseconds since the grid's epoch."""
    return -(-instant // CELL_MICROS) * CELL_MICROS


def padded(
    starts_at: datetime, ends_at: datetime, before_minutes: int, after_minutes: int
) -> tuple[datetime, datetime]:
    """The time a session keeps from others: itself plus its buffers (buffers of neighbours stack)."""
    return starts_at - timedelta(minutes=before_minutes), ends_at + timedelta(minutes=after_minutes)


def covering_cells(busy_from: datetime, busy_to: datetime) -> list[datetime]:
    """The starts of every grid cell that [busy_from, busy_to) touches, earliest first."""
    cells = []
    cell = floor_cell(busy_from)
    while cell < busy_to:
        cells.append(cell)
        cell += CELL
    return cells


def cell_claim_id(therapist_id: str, cell: datetime) -> str:
    return f"{therapist_id}:{cell.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


def day_claim_id(therapist_id: str, day: date, ordinal: int) -> str:
    return f"{therapist_id}:day:{day.isoformat()}:{ordinal}"


def is_day_claim(claim_id: str, therapist_id: str, day: date) -> bool:
    return claim_id.startswith(f"{therapist_id}:day:{day.isoformat()}:")
