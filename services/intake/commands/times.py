"""Timestamps as MongoDB keeps them, so what a command returns equals what a later read returns."""

from __future__ import annotations

from datetime import UTC, datetime


def stored_time(moment: datetime) -> datetime:
    """`moment` in UTC, cut to the millisecond (BSON dates keep no finer precision)."""
    utc = moment.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)
