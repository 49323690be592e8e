"""Risk alerts not yet delivered, as Prometheus gauges (`GET /metrics`).

    carepath_risk_alerts_undelivered{message, state}
    carepath_risk_alert_oldest_undelivered_seconds{message}

`message` is `on_call_page`, `therapist_alert` or `crisis_resources`; `state` is
`pending` or `failing` (`domain/risk_alerts.py` says when an alert counts as reached).
No id is a label: which client a crisis concerns stays in the service.

`RiskAlertWatch` recomputes them every few seconds from the watch list in `alerts`
(`store/alerts.py`) and the watched deliveries, each read by its `_id`, and takes off the
list what reached someone or is past `WATCH_FOR`. Every replica runs one; they read the
same documents, so their figures agree (dashboards and alerts take the `max`).
"""

from __future__ import annotations

from prometheus_client import Gauge

from services.notifications.domain.risk_alerts import (
    Summary,
    still_watched,
    summarise,
    undelivered_alerts,
)
from services.notifications.store import NotificationStores
from services.notifications.store.alerts import UNDELIVERED, unwatched, watch_list
from shared.background import Pacer
from shared.observability.logs import get_logger
from shared.ports import Clock

log = get_logger(__name__)

RISK_ALERTS_UNDELIVERED = Gauge(
    "carepath_risk_alerts_undelivered",
    "Risk alerts (per risk flag: the on-call page, the treating therapist's alert, the client's "
    "crisis resources) not delivered on any channel outside the app yet, by state.",
    ["message", "state"],
)
RISK_ALERT_OLDEST_UNDELIVERED_SECONDS = Gauge(
    "carepath_risk_alert_oldest_undelivered_seconds",
    "How long the oldest undelivered risk alert has waited, in real seconds (0 when none waits).",
    ["message"],
)

WATCH_INTERVAL_SECONDS = 15.0


class RiskAlertWatch:
    """Keeps the undelivered-risk-alert gauges current; `run()` until `stop()`."""

    def __init__(
        self,
        stores: NotificationStores,
        clock: Clock,
        *,
        speed: float = 1.0,
        interval_seconds: float = WATCH_INTERVAL_SECONDS,
    ) -> None:
        """`speed`: domain seconds per real second (a demo clock); ages are shown in real seconds."""
        self._stores = stores
        self._clock = clock
        self._speed = speed
        self._pacer = Pacer(interval_seconds)

    def stop(self) -> None:
        self._pacer.stop()

    async def run(self) -> None:
        while not self._pacer.stopped:
            try:
                await self.observe()
            except Exception:
                log.warning("undelivered risk alerts could not be counted; will retry", exc_info=True)
            await self._pacer.pause()

    async def observe(self) -> Summary:
        """Read the watched deliveries, show what is undelivered, unlist what is done."""
        listed = watch_list(await self._stores.alerts.get(UNDELIVERED))
        deliveries = [d for i in listed if (d := await self._stores.deliveries.get(i)) is not None]
        now = self._clock()
        summary = summarise(undelivered_alerts(deliveries), now)
        self.show(summary)
        if done := set(listed) - still_watched(deliveries, now):
            await self._stores.alerts.update(UNDELIVERED, unwatched(done))
        return summary

    def show(self, summary: Summary) -> None:
        for (message, state), count in summary.counts.items():
            RISK_ALERTS_UNDELIVERED.labels(message.value, state.value).set(count)
        for message, age in summary.oldest.items():
            RISK_ALERT_OLDEST_UNDELIVERED_SECONDS.labels(message.value).set(age.total_seconds() / self._speed)
