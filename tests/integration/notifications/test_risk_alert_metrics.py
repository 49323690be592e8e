"""Risk alerts not yet delivered, on the metrics scrape: counted from the real stores after a risk flag
whose messages reach nobody outside the app (the e-mail relay refuses the client, and nobody
on the on-call rota gave an address)."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from services.notifications.metrics import RiskAlertWatch
from services.notifications.store.alerts import UNDELIVERED
from tests.integration.notifications.service import RunningNotifications, new_id
from tests.support.metrics_scrape import metrics_listener, scrape
from tests.unit.notifications import samples


async def undelivered_on_the_scrape() -> dict[tuple[str, str], float]:
    with metrics_listener() as url:  # the port a notifications process serves them on
        text = await scrape(url)
    return {
        (sample.labels["message"], sample.labels.get("state", "")): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith("carepath_risk_alert")
        for sample in family.samples
    }


async def test_a_risk_flag_that_reaches_nobody_outside_the_app_shows_on_the_scrape_without_ids(
    notifications: RunningNotifications,
) -> None:
    n = notifications
    client = new_id("client")
    address = f"{client}@example.org"
    await n.register(client, email=address)
    n.mail.refuse(address, 450)  # mailbox busy: retried later (the test's clock stands still)

    await n.publish(samples.risk_flagged(client))

    async def crisis_mail_failed_once() -> bool:
        return any(d["channel"] == "email" and d["status"] == "retrying" for d in await n.deliveries(client))

    await n.until_async(crisis_mail_failed_once)
    watch: RiskAlertWatch = n.app.state.risk_alert_watch
    n.clock.advance(timedelta(seconds=90))  # the mailbox stays busy: retries fail too
    await watch.observe()

    scraped = await undelivered_on_the_scrape()
    assert scraped[("crisis_resources", "failing")] == 1
    assert scraped[("on_call_page", "failing")] == 1  # nobody on the rota has a channel outside the app
    assert scraped[("crisis_resources", "")] >= 90  # the oldest's age, in seconds
    assert {message for message, _ in scraped} == {"on_call_page", "therapist_alert", "crisis_resources"}
    watched = await n.app.state.context.stores.alerts.get(UNDELIVERED)
    assert any(client in delivery_id for delivery_id in watched["deliveries"])
