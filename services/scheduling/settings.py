"""The scheduling service's settings: everything of `ServiceSettings`, read under `SCHEDULING_`."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class SchedulingSettings(ServiceSettings):
    """`SCHEDULING_HTTP_PORT` (8003 under `make run`), `SCHEDULING_MONGODB_DATABASE`, ...

    Scheduling's own knobs: where video rooms live, whether the client's choice is awaited
    (the default) or a proposal is booked at once, how far ahead a series is kept booked
    (its cadence and the check-in interval are the plan's), and when a claim left by a
    crashed booking may be taken by someone else.
    """

    service_name: ClassVar[str] = "scheduling"
    model_config = SettingsConfigDict(env_prefix="SCHEDULING_", extra="ignore")

    # A session's join link is this base plus an unguessable room id.
    video_base_url: str = Field(default="https://video.carepath.example/room", pattern=r"^https://\S+$")
    # wait_for_accept: nothing is booked until the client chooses (`match-accepted`, or their
    # own booking of a proposed therapist's slot); book_at_once (an opt-in for platforms that
    # auto-assign): the best fitting candidate is booked when the proposal arrives, on the
    # system's behalf (`booked_by: system`), which grants that therapist nothing.
    booking_policy: Literal["book_at_once", "wait_for_accept"] = "wait_for_accept"
    series_horizon_days: int = Field(default=28, ge=7, le=365)
    # How often a running series is topped up to its horizon.
    series_extend_days: int = Field(default=7, ge=1, le=60)
    # How far an occurrence that collides may move to the nearest free slot.
    series_max_shift_days: int = Field(default=3, ge=0, le=14)
    late_cancel_hours: float = Field(default=24.0, ge=0)
    # A claim whose booking never completed (its replica died mid-way) is free after this.
    claim_orphan_grace_seconds: float = Field(default=300.0, gt=0)
