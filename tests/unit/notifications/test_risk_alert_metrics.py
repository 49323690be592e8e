"""Risk alerts not yet delivered: the rules (which alert counts as reached) and the gauges."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from services.notifications.channels import permanent, transient
from services.notifications.domain.risk_alerts import (
    AlertState,
    RiskMessage,
    still_watched,
    summarise,
    undelivered_alerts,
)
from services.notifications.handlers.on_risk_flagged import on_risk_flagged
from services.notifications.metrics import RiskAlertWatch
from services.notifications.store.alerts import UNDELIVERED, watch_list
from tests.unit.notifications import samples
from tests.unit.notifications.harness import Harness, envelope_of, harness

T0 = samples.NOW


def delivery(
    recipient: str,
    channel: str,
    status: str = "pending",
    *,
    kind: str = "risk_alert",
    page: str | None = "risk:e1",
    event_id: str = "e1",
    created_at: datetime = T0,
    failures: int = 0,
) -> dict[str, Any]:
    return {
        "_id": f"{event_id}:{recipient}:{channel}",
        "event_id": event_id,
        "recipient_id": recipient,
        "channel": channel,
        "kind": kind,
        "page": page,
        "critical": True,
        "status": status,
        "failures": failures,
        "created_at": created_at,
    }


def states(deliveries: list[dict[str, Any]]) -> list[tuple[str, RiskMessage, AlertState]]:
    return [(a.event_id, a.message, a.state) for a in undelivered_alerts(deliveries)]


# ------------------------------------------------------------------ rules


@pytest.mark.parametrize(
    ("deliveries", "expected"),
    [
        pytest.param(
            [delivery("oncall-1", "email"), delivery("oncall-1", "sms")],
            [("e1", RiskMessage.on_call_page, AlertState.pending)],
            id="page-on-its-way",
        ),
        pytest.param(
            [delivery("oncall-1", "email", "retrying", failures=1), delivery("oncall-1", "sms")],
            [("e1", RiskMessage.on_call_page, AlertState.failing)],
            id="page-retried",
        ),
        pytest.param(
            [delivery("oncall-1", "email", "failed", failures=1), delivery("oncall-2", "sms", "delivered")],
            [],
            id="page-reached-the-next-clinician",
        ),
        pytest.param(
            [delivery("oncall-1", "email", "delivered"), delivery("oncall-1", "push", "failed", failures=1)],
            [],
            id="page-reached-on-one-channel",
        ),
        pytest.param(
            [
                delivery("oncall-1", "in_app", "delivered"),
                delivery("oncall-1", "email", "failed", failures=1),
            ],
            [("e1", RiskMessage.on_call_page, AlertState.failing)],
            id="the-inbox-reaches-nobody-in-a-crisis",
        ),
        pytest.param(
            [
                delivery("client-1", "sms", kind="crisis_resources", page=None),
                delivery("therapist-1", "email", "delivered", page=None),
            ],
            [("e1", RiskMessage.crisis_resources, AlertState.pending)],
            id="each-message-of-a-flag-on-its-own",
        ),
        pytest.param(
            [delivery("oncall-1", "in_app", "delivered"), delivery("oncall-2", "in_app", "delivered")],
            [("e1", RiskMessage.on_call_page, AlertState.failing)],
            id="a-rota-nobody-can-reach-outside-the-app",
        ),
        pytest.param(
            [delivery("client-1", "in_app", "delivered", kind="crisis_resources", page=None)],
            [],
            id="a-client-without-an-address-got-all-there-was",
        ),
        pytest.param(
            [delivery("client-1", "email", kind="session_booked", page=None)],
            [],
            id="other-messages-are-not-risk-alerts",
        ),
    ],
)
def test_a_risk_alert_counts_as_reached_once_any_channel_outside_the_app_delivered_it(
    deliveries: list[dict[str, Any]], expected: list[tuple[str, RiskMessage, AlertState]]
) -> None:
    assert states(deliveries) == expected


def test_an_alert_waits_since_its_first_delivery_was_claimed() -> None:
    (alert,) = undelivered_alerts(
        [
            delivery("oncall-1", "email", "failed", failures=1, created_at=T0),
            delivery("oncall-2", "sms", created_at=T0 + timedelta(seconds=40)),
        ]
    )
    assert alert.since == T0
    summary = summarise([alert], T0 + timedelta(minutes=6))
    assert summary.oldest[RiskMessage.on_call_page] == timedelta(minutes=6)
    assert summary.counts[(RiskMessage.on_call_page, AlertState.failing)] == 1
    assert summary.counts[(RiskMessage.crisis_resources, AlertState.pending)] == 0


def test_delivered_alerts_and_those_past_a_day_leave_the_watch_list() -> None:
    reached = [delivery("oncall-1", "email", "delivered", event_id="e1", page="risk:e1")]
    waiting = [delivery("oncall-1", "email", event_id="e2", page="risk:e2", created_at=T0)]
    two_days_ago = T0 - timedelta(days=2)
    ancient = [delivery("oncall-1", "email", event_id="e3", page="risk:e3", created_at=two_days_ago)]

    kept = still_watched([*reached, *waiting, *ancient], T0 + timedelta(minutes=1))

    assert kept == {"e2:oncall-1:email"}


# ------------------------------------------------------------------ the gauges, on the fakes


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def flag_risk(h: Harness) -> None:
    event = samples.risk_flagged()
    await on_risk_flagged(h.ctx)(event, envelope_of(event))


async def test_a_failing_page_shows_as_undelivered_until_a_retry_reaches_the_clinician() -> None:
    h = harness(rota=("oncall-1",))  # nobody to escalate to: only the retry can reach someone
    await h.register("oncall-1", role="on_call", email="oncall-1@example.org")
    h.senders["email"].fail_with(transient("smtp_451"))  # the page's first attempt
    watch = RiskAlertWatch(h.stores, h.clock)

    await flag_risk(h)
    h.clock.advance(timedelta(seconds=1))
    await watch.observe()

    assert gauge("carepath_risk_alerts_undelivered", message="on_call_page", state="failing") == 1
    assert gauge("carepath_risk_alert_oldest_undelivered_seconds", message="on_call_page") == 1.0
    assert len(watch_list(await h.stores.alerts.get(UNDELIVERED))) >= 1

    await h.advance(timedelta(minutes=5))  # the retry reaches the clinician
    await watch.observe()

    assert gauge("carepath_risk_alerts_undelivered", message="on_call_page", state="failing") == 0
    assert gauge("carepath_risk_alert_oldest_undelivered_seconds", message="on_call_page") == 0
    assert watch_list(await h.stores.alerts.get(UNDELIVERED)) == []


async def test_crisis_resources_no_channel_delivered_stay_undelivered_and_age_in_real_seconds() -> None:
    h = harness()
    await h.register("client-1", email="client@example.org", phone="+15550001111")
    h.senders["email"].fail_with(permanent("smtp_550"))
    h.senders["sms"].fail_with(permanent("provider_400"))
    watch = RiskAlertWatch(h.stores, h.clock, speed=60.0)  # a demo clock: a domain hour per minute

    await flag_risk(h)
    h.clock.advance(timedelta(hours=1))
    await watch.observe()

    assert gauge("carepath_risk_alerts_undelivered", message="crisis_resources", state="failing") == 1
    assert gauge("carepath_risk_alert_oldest_undelivered_seconds", message="crisis_resources") == 60.0


async def test_the_gauges_name_no_client_or_recipient() -> None:
    h = harness()
    await h.register("client-1", email="client@example.org")
    h.senders["email"].fail_with(transient("smtp_451"))
    await flag_risk(h)
    await RiskAlertWatch(h.stores, h.clock).observe()

    families = [m for m in REGISTRY.collect() if m.name.startswith("carepath_risk_alert")]
    label_values = {v for family in families for s in family.samples for v in s.labels.values()}
    assert families
    assert label_values <= {m.value for m in RiskMessage} | {s.value for s in AlertState}
