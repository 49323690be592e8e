"""A `ServiceRuntime` of a throwaway service, built on the test's isolated topics and database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic_settings import SettingsConfigDict

from shared.events.registry import EventSpec
from shared.messaging.subscriptions import Subscription
from shared.runtime import ServiceRuntime
from shared.settings import KafkaSettings, MongoSettings, ServiceSettings
from shared.storage.timers import TimerHandler


class PlumbingTestSettings(ServiceSettings):
    service_name: ClassVar[str] = "plumbing-test"
    model_config = SettingsConfigDict(env_prefix="PLUMBING_TEST_", extra="ignore")


FAST_DEFAULTS: dict[str, Any] = {
    "relay_poll_interval_seconds": 0.1,
    "timer_poll_interval_seconds": 0.1,
    "retry_initial_backoff_seconds": 0.05,
    "retry_max_backoff_seconds": 0.5,
    "shutdown_grace_seconds": 10,
}

JUMPING_CLOCK_DEFAULTS: dict[str, Any] = {
    # A test's manual clock jumps hours or days ahead, past what a timer worker remembers
    # (two sweeps' worth of real time); sweeping often lets it find what became due.
    "timer_sweep_interval_seconds": 0.5,
}


def plumbing_settings(
    kafka: KafkaSettings, mongo: MongoSettings, database: str, **overrides: Any
) -> PlumbingTestSettings:
    return PlumbingTestSettings(
        kafka=kafka, mongo=mongo, mongodb_database=database, **(FAST_DEFAULTS | overrides)
    )


def build_runtime(
    kafka: KafkaSettings,
    mongo: MongoSettings,
    database: str,
    *,
    subscriptions: Sequence[Subscription] = (),
    produces: Sequence[EventSpec] = (),
    outbox_collections: Sequence[str] = (),
    timer_handlers: Mapping[str, TimerHandler] | None = None,
    **overrides: Any,
) -> ServiceRuntime:
    """A runtime wired the way a service's `app.py` wires one, from plain lists."""
    runtime = ServiceRuntime(plumbing_settings(kafka, mongo, database, **overrides))
    for collection in outbox_collections:
        runtime.documents(collection)
    runtime.subscribe(*subscriptions)
    for kind, handler in (timer_handlers or {}).items():
        runtime.on_timer(kind, handler)
    runtime.produces(*(spec.model for spec in produces))
    return runtime
