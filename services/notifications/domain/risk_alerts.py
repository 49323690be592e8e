"""Which risk alerts have not reached anyone yet: the rules behind the undelivered-risk metrics.

A risk flag asks for up to three messages, each critical: the on-call page (one clinician
after another, `commands/page_on_call.py`), the treating therapist's alert and the
client's crisis resources. Each *message* of one flag is one risk alert here, reached
once any of its deliveries on a channel outside the app is delivered: a page counts as
delivered when any paged clinician got it, whichever channel. Until then it is
`pending` (nothing failed yet) or `failing` (an attempt failed, retried or for good),
undelivered since its first delivery was claimed. The in-app inbox does not count: it
always "delivers", and reaches nobody in a crisis. So a clinician's message that had no
channel outside the app at all (nobody on the rota gave one) is `failing` from the
start; the client's crisis resources, when the client gave no address, have reached
everything they can and are not counted.

Pure functions of stored deliveries, so the metric's rules are table-tested.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from services.notifications.domain.channels import EXTERNAL_CHANNELS
from services.notifications.domain.delivery import DeliveryStatus
from services.notifications.domain.messages import MessageKind


class RiskMessage(StrEnum):
    """Which of a risk flag's messages a delivery carries: the metrics' `message` label."""

    on_call_page = "on_call_page"
    therapist_alert = "therapist_alert"
    crisis_resources = "crisis_resources"


class AlertState(StrEnum):
    pending = "pending"  # no attempt has failed yet
    failing = "failing"  # an attempt failed: it is retried, or every channel failed for good


WATCH_FOR = timedelta(hours=24)
"""How long an undelivered risk alert is watched; past it, `notification-failed` and the
logs are its record (a delivery's retries end long before)."""


@dataclass(frozen=True, slots=True)
class UndeliveredAlert:
    event_id: str  # the risk-flagged event
    message: RiskMessage
    state: AlertState
    since: datetime  # when its first delivery was claimed


def risk_message(delivery: Mapping[str, Any]) -> RiskMessage | None:
    """The risk message a delivery carries, or None for any other message."""
    if delivery.get("page"):
        return RiskMessage.on_call_page
    if delivery.get("kind") == MessageKind.risk_alert:
        return RiskMessage.therapist_alert
    if delivery.get("kind") == MessageKind.crisis_resources:
        return RiskMessage.crisis_resources
    return None


FOR_CLINICIANS = frozenset({RiskMessage.on_call_page, RiskMessage.therapist_alert})
"""Messages that must reach a clinician outside the app: their in-app deliveries are
watched too, so a message that had no other channel shows as undelivered."""


def is_watched(delivery: Mapping[str, Any]) -> bool:
    """Whether a delivery belongs to a risk alert the metrics watch (`undelivered_alerts`)."""
    message = risk_message(delivery)
    if message is None:
        return False
    return delivery["channel"] in EXTERNAL_CHANNELS or message in FOR_CLINICIANS


def undelivered_alerts(deliveries: Iterable[Mapping[str, Any]]) -> list[UndeliveredAlert]:
    """The risk alerts none of whose deliveries outside the app is delivered, oldest first."""
    alerts: dict[tuple[str, RiskMessage], list[Mapping[str, Any]]] = {}
    for delivery in deliveries:
        if is_watched(delivery):
            message = risk_message(delivery)
            assert message is not None
            alerts.setdefault((delivery["event_id"], message), []).append(delivery)
    found = []
    for (event_id, message), group in alerts.items():
        outside = [d for d in group if d["channel"] in EXTERNAL_CHANNELS]
        if any(d["status"] == DeliveryStatus.delivered for d in outside):
            continue  # reached someone
        since = min(d["created_at"] for d in group)
        found.append(UndeliveredAlert(event_id, message, _state(outside), since))
    return sorted(found, key=lambda alert: (alert.since, alert.event_id, alert.message))


def _state(outside: list[Mapping[str, Any]]) -> AlertState:
    """Failing once an attempt outside the app failed, or when there was no such channel."""
    return AlertState.failing if not outside or any(_failed(d) for d in outside) else AlertState.pending


def _failed(delivery: Mapping[str, Any]) -> bool:
    ended_undelivered = delivery["status"] in (DeliveryStatus.failed, DeliveryStatus.expired)
    return bool(delivery.get("failures")) or ended_undelivered


def still_watched(
    deliveries: Iterable[Mapping[str, Any]], now: datetime, *, watch_for: timedelta = WATCH_FOR
) -> set[str]:
    """Ids of the deliveries of alerts still undelivered and younger than `watch_for`."""
    listed = list(deliveries)
    open_alerts = {
        (alert.event_id, alert.message)
        for alert in undelivered_alerts(listed)
        if now - alert.since < watch_for
    }
    return {d["_id"] for d in listed if (d["event_id"], risk_message(d)) in open_alerts}


@dataclass(frozen=True, slots=True)
class Summary:
    """What the metrics show: undelivered alerts by message and state, and the oldest's age."""

    counts: dict[tuple[RiskMessage, AlertState], int]
    oldest: dict[RiskMessage, timedelta]


def summarise(alerts: Iterable[UndeliveredAlert], now: datetime) -> Summary:
    """Every message and state is present (zero when none), so each series always exists."""
    counts = {(message, state): 0 for message in RiskMessage for state in AlertState}
    oldest = {message: timedelta(0) for message in RiskMessage}
    for alert in alerts:
        counts[(alert.message, alert.state)] += 1
        oldest[alert.message] = max(oldest[alert.message], now - alert.since)
    return Summary(counts, oldest)
