"""Handler logs carry the journey's ids from the record headers, and no PHI (DESIGN §8)."""

from __future__ import annotations

import io
import json
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.events.envelope import Envelope
from shared.events.models import CheckInDue
from shared.messaging.subscriptions import Subscription
from shared.observability.logs import get_logger
from shared.settings import KafkaSettings, MongoSettings
from tests.support.kafka import check_in_due, event, eventually, publish_events
from tests.support.runtime import build_runtime


async def test_handler_log_lines_carry_correlation_and_event_ids_but_no_phi(
    log_stream: io.StringIO,
    kafka_settings: KafkaSettings,
    mongo_settings: MongoSettings,
    mongo_db: AsyncDatabase[Any],
) -> None:
    handled: list[str] = []

    async def on_check_in_due(data: CheckInDue, envelope: Envelope) -> None:
        get_logger("handler").info("check-in due handled", client_id=data.client_id, email="jane@example.com")
        handled.append(envelope.id)

    runtime = build_runtime(
        kafka_settings,
        mongo_settings,
        mongo_db.name,
        subscriptions=[Subscription(CheckInDue, on_check_in_due)],
    )
    outgoing = event(check_in_due("client-5"), correlation_id="journey-77")
    await runtime.start()
    try:
        await publish_events(kafka_settings, outgoing)

        async def done() -> bool:
            return bool(handled)

        await eventually(done)
    finally:
        await runtime.stop()

    lines = [json.loads(line) for line in log_stream.getvalue().splitlines() if line.startswith("{")]
    (line,) = [entry for entry in lines if entry["event"] == "check-in due handled"]
    assert line["correlation_id"] == "journey-77"
    assert line["event_id"] == outgoing.envelope.id
    assert line["event_type"] == "carepath.check-in-due.v1"
    assert line["topic"] == kafka_settings.topic("check-in-due")
    assert line["client_id"] == "client-5"
    assert "jane@example.com" not in log_stream.getvalue()
