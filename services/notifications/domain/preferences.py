"""Opt-outs per channel and per kind of message, and quiet hours in the recipient's zone.

A non-critical message goes only on channels the recipient keeps open for its kind, and
if it falls in their quiet hours it is held until the window ends in their own time
zone. A critical message (a risk alert, crisis resources) bypasses all of it.

Quiet hours are wall-clock times: 22:00–07:00 crosses midnight. Across a daylight-saving
change the window still ends at its wall-clock time; an end that does not exist that
night (inside the spring-forward gap) is read with the offset in force before the change
(PEP 495, fold=0), so a message is never released inside the window.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from services.notifications.domain.channels import Channel
from services.notifications.domain.messages import MessageKind

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _check_hhmm(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError("expected a 24-hour time HH:MM (00:00–23:59)")
    return value


WallTime = Annotated[str, AfterValidator(_check_hhmm)]


class QuietHours(BaseModel):
    """A daily window of local wall-clock time, [start, end); it crosses midnight when start > end."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: WallTime = Field(examples=["22:00"])
    end: WallTime = Field(examples=["07:00"])

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours need different start and end times")
        return self

    @property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        return time.fromisoformat(self.end)

    def contains(self, wall: time) -> bool:
        start, end = self.start_time, self.end_time
        if start < end:
            return start <= wall < end
        return wall >= start or wall < end


class Preferences(BaseModel):
    """A recipient's choices: channels on or off, per-kind overrides, quiet hours.

    Anything not mentioned is allowed: a new recipient hears everything on every
    channel they have, at any hour.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: dict[Channel, bool] = Field(default_factory=dict, examples=[{"sms": False}])
    kinds: dict[MessageKind, dict[Channel, bool]] = Field(
        default_factory=dict, examples=[{"session_reminder": {"email": False}}]
    )
    quiet_hours: QuietHours | None = None

    def allows(self, kind: MessageKind, channel: Channel) -> bool:
        if not self.channels.get(channel, True):
            return False
        return self.kinds.get(kind, {}).get(channel, True)


def deliverable_channels(
    available: Iterable[Channel], preferences: Preferences, kind: MessageKind, *, critical: bool
) -> list[Channel]:
    """The channels a message goes on: every one the recipient has when critical, else those allowed."""
    return [channel for channel in available if critical or preferences.allows(kind, channel)]


def release_at(now: datetime, quiet_hours: QuietHours | None, zone: str) -> datetime:
    """When a non-critical message due `now` may go: now, or the end of the quiet window."""
    if quiet_hours is None:
        return now
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    if not quiet_hours.contains(local.time()):
        return now
    end_day = local.date()
    if quiet_hours.start_time > quiet_hours.end_time and local.time() >= quiet_hours.start_time:
        end_day += timedelta(days=1)  # the window crossed midnight: it ends tomorrow
    end = datetime.combine(end_day, quiet_hours.end_time, tzinfo=tz).astimezone(UTC)
    return max(end, now)
