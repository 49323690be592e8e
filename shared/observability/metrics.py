"""Prometheus metrics every service exposes on `GET /metrics`."""

from __future__ import annotations

import weakref

from prometheus_client import Counter, Gauge, Histogram


class Largest:
    """A gauge showing the largest value its live reporters last set (0 with none).

    A service process runs one runtime, so this is simply that runtime's relay or timer
    worker; a process running several (the test suite's session services beside a test's
    own) must not have one's "nothing is late" hide another's lag. A reporter is forgotten
    when it stops (`forget`) or is collected.
    """

    def __init__(self, gauge: Gauge) -> None:
        self._values: weakref.WeakKeyDictionary[object, float] = weakref.WeakKeyDictionary()
        gauge.set_function(lambda: max(self._values.values(), default=0.0))

    def set(self, reporter: object, value: float) -> None:
        self._values[reporter] = value

    def forget(self, reporter: object) -> None:
        self._values.pop(reporter, None)


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
OUTBOX_LAG_SECONDS = Largest(
    Gauge(
        "carepath_outbox_oldest_pending_seconds",
        "Age of the oldest outbox entry the relay last saw pending.",
    )
)

# ---------------------------------------------------------------- HTTP (shared/http/request_metrics.py)
# `route` is the route's template (`/v1/intakes/{intake_id}`), never the path a client sent:
# a path carries ids, and one series per id would both leak them and grow without bound.
HTTP_REQUESTS = Counter(
    "carepath_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "carepath_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by method, route template and status.",
    ["method", "route", "status"],
)

# ---------------------------------------------------------------- consumer lag (shared/observability/lag.py)
CONSUMER_LAG = Gauge(
    "carepath_consumer_lag",
    "Records a consumer group has yet to commit on a partition (high watermark minus committed "
    "offset), as last polled; every replica of a service polls the same groups.",
    ["group", "topic", "partition"],
)
CONSUMER_LAG_POLL_FAILURES = Counter(
    "carepath_consumer_lag_poll_failures_total",
    "Polls of committed offsets and high watermarks that failed (the lag gauges keep their last value).",
)

# ---------------------------------------------------------------- timers (shared/storage/timers.py)
TIMER_LAG_SECONDS = Largest(
    Gauge(
        "carepath_timer_lag_seconds",
        "How late the oldest due, still pending timer this replica knows of is (0 when none is due), "
        "in real seconds; a timer whose handler keeps failing counts from its original due time.",
    )
)
