"""Prometheus metrics every service exposes on `GET /metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "carepath_events_consumed_total",
    "Events taken off Kafka, by topic and outcome (handled, duplicate, dead_lettered).",
    ["topic", "outcome"],
)
HANDLER_RETRIES = Counter(
    "carepath_handler_retries_total", "Transient handler failures that were retried.", ["topic"]
)
HANDLER_SECONDS = Histogram(
    "carepath_handler_seconds", "Time spent in an event handler, retries included.", ["topic"]
)
INFRASTRUCTURE_RETRIES = Counter(
    "carepath_infrastructure_retries_total",
    "Consume steps retried because the infrastructure was unavailable (not counted as failures).",
    ["step"],
)
DEAD_LETTERS = Counter(
    "carepath_dead_letters_total", "Messages written to a dead-letter topic.", ["topic", "reason"]
)
EVENTS_PUBLISHED = Counter(
    "carepath_events_published_total", "Outbox entries confirmed by the broker.", ["topic"]
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "carepath_outbox_publish_failures_total", "Relay publishes that failed and will be retried."
)
TIMERS_FIRED = Counter("carepath_timers_fired_total", "Durable timers fired.", ["kind"])
TIMER_FAILURES = Counter(
    "carepath_timer_failures_total", "Timer handler failures (retried after the lease).", ["kind"]
)
OUTBOX_LAG_SECONDS = Gauge(
    "carepath_outbox_oldest_pending_seconds",
    "Age of the oldest outbox entry the relay last saw pending.",
)
