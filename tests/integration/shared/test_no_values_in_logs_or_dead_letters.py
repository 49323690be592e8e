"""On the real broker: a failing handler and a poison record leave no value in a log line or a dead letter.

The handler's error quotes health information and the poison record's data is refused by
its model; what the service writes about them (every log line, the `dlq_error` header)
names types, fields and ids only, and every log line keeps to the allow-list (DESIGN §8).
"""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.events.envelope import Envelope
from shared.events.models import CheckInDue
from shared.messaging.dead_letters import DLQ_HEADERS
from shared.messaging.subscriptions import Subscription
from shared.observability.logs import ALLOWED_FIELDS
from shared.settings import KafkaSettings, MongoSettings
from tests.support.kafka import check_in_due, event, publish_events, publish_raw, read_records
from tests.support.runtime import build_runtime

SECRET = "Jane Doe wrote: panic attacks since 2019"


async def test_a_failing_handler_and_a_poison_record_leave_no_value_in_logs_or_dead_letters(
    log_stream: io.StringIO,
    kafka_settings: KafkaSettings,
    mongo_settings: MongoSettings,
    mongo_db: AsyncDatabase[Any],
) -> None:
    async def failing(data: CheckInDue, envelope: Envelope) -> None:
        raise RuntimeError(f"could not store check-in of {data.client_id}: {SECRET}")

    runtime = build_runtime(
        kafka_settings,
        mongo_settings,
        mongo_db.name,
        subscriptions=[Subscription(CheckInDue, failing)],
        retry_max_attempts=2,
        retry_initial_backoff_seconds=0.05,
    )
    topic = kafka_settings.topic("check-in-due")
    good = event(check_in_due(check_in_id="ci-fails"))
    poison = {**json.loads(good.value()), "instruments": [SECRET], "client_id": SECRET}
    await runtime.start()
    try:
        await publish_events(kafka_settings, good)
        await publish_raw(
            kafka_settings,
            topic,
            [
                (
                    b"client-1",
                    json.dumps(poison).encode(),
                    good.envelope.to_headers() | {"ce_id": str(uuid.uuid4())},
                )
            ],
        )
        dead = await read_records(kafka_settings, f"{topic}.dlq", expect=2)
    finally:
        await runtime.stop()

    errors = sorted(dict((k, v.decode()) for k, v in record.headers)[DLQ_HEADERS.error] for record in dead)
    assert errors == ["RuntimeError", "ValidationError: client_id, instruments.0"]
    logged = log_stream.getvalue()
    assert SECRET not in logged and "Jane Doe" not in logged and "input_value" not in logged
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    assert [line for line in lines if line["event"] == "handler failed; retrying"]
    assert not [line for line in lines if not set(line) <= ALLOWED_FIELDS]
