"""The domain clock: real UTC time, or, for `make demo` only, time running faster.

Every domain decision (booking notice, reminders, check-ins falling due, proposal
expiry, quiet hours) reads `runtime.clock`, never the wall clock, so one setting can run
the whole journey in a minute: with `DEMO_CLOCK_SPEED=10000` a day passes in 8.6 s. All
processes must agree on the time, so the acceleration starts from one shared instant,
`DEMO_CLOCK_EPOCH`:

    now = epoch + (real_now - epoch) * speed

Only domain time is accelerated. Leases, heartbeats, Kafka and HTTP timeouts, JWT expiry
and poll intervals stay in real time. A duration that measures how long machinery takes
rather than how long a person waits (a provider's retry backoff, a crashed booking's
orphan grace, a cache's reload period) is given in real seconds and turned into domain
time with `domain_span`, so a demo does not retry a hundred times a second.

Speed 1 (the default) is plain `datetime.now(UTC)`. A faster clock is refused without
an explicit epoch, and an epoch more than `MAX_EPOCH_AGE` old or in the future is refused
too: a forgotten `DEMO_CLOCK_SPEED` in a real deployment stops the service at start
instead of moving every appointment. A service on a fast clock logs a warning at start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_SPEED = 100_000.0
MAX_EPOCH_AGE = timedelta(hours=12)
EPOCH_SKEW = timedelta(minutes=1)  # processes started together disagree a little

Clock = Callable[[], datetime]  # the same as shared.ports.Clock (imported by settings, so no cycle)


def utc_now() -> datetime:
    return datetime.now(UTC)


def stored_instant(moment: datetime) -> datetime:
    """`moment` in UTC, cut to the millisecond, as MongoDB stores it (BSON dates keep no finer
    precision), so what a write returns equals what a later read returns."""
    utc = moment.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


class ClockSettings(BaseSettings):
    """`DEMO_CLOCK_SPEED` (1: real time) and `DEMO_CLOCK_EPOCH` (an ISO instant with offset)."""

    model_config = SettingsConfigDict(env_prefix="DEMO_CLOCK_", extra="ignore")

    speed: float = Field(default=1.0, ge=1.0, le=MAX_SPEED)
    epoch: datetime | None = None

    @model_validator(mode="after")
    def _epoch_is_explicit_when_fast(self) -> ClockSettings:
        if self.epoch is not None and self.epoch.tzinfo is None:
            raise ValueError("DEMO_CLOCK_EPOCH needs a UTC offset, e.g. 2026-11-28T18:00:00+00:00")
        if self.speed != 1.0 and self.epoch is None:
            raise ValueError(
                "DEMO_CLOCK_SPEED above 1 is for demos only and needs DEMO_CLOCK_EPOCH, the instant "
                "every process accelerates from (deploy/local/demo.py sets both)"
            )
        return self

    @property
    def accelerated(self) -> bool:
        return self.speed != 1.0


@dataclass(frozen=True, slots=True)
class AcceleratedClock:
    """Domain time that runs `speed` times faster than real time from `epoch` on."""

    epoch: datetime
    speed: float
    real: Clock = utc_now

    def __call__(self) -> datetime:
        return self.epoch + (self.real() - self.epoch) * self.speed


def build_clock(settings: ClockSettings, *, real: Clock = utc_now) -> Clock:
    """The clock `settings` ask for; raises ValueError for a stale or future demo epoch."""
    if not settings.accelerated:
        return real
    assert settings.epoch is not None  # the validator insists
    age = real() - settings.epoch
    if age > MAX_EPOCH_AGE or age < -EPOCH_SKEW:
        raise ValueError(
            f"DEMO_CLOCK_EPOCH {settings.epoch.isoformat()} is not a demo that started just now "
            f"(it must lie within the last {MAX_EPOCH_AGE}); unset DEMO_CLOCK_SPEED for real time"
        )
    return AcceleratedClock(settings.epoch, settings.speed, real)


def speed_of(clock: Clock) -> float:
    """How many domain seconds pass per real second (1 for any clock but an accelerated one)."""
    return clock.speed if isinstance(clock, AcceleratedClock) else 1.0


def domain_span(clock: Clock, real_seconds: float) -> timedelta:
    """The domain time that passes on `clock` while `real_seconds` pass in reality."""
    return timedelta(seconds=real_seconds * speed_of(clock))
