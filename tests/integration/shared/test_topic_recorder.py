"""The tests' topic recorder counts what is on the log, not how often it read it.

Its group commits nothing, so when it rejoins (a missed heartbeat on a loaded machine) it
reads every partition from the start again; a test counting a client's events must still
see each record once, or a duplicate the system never produced fails it.
"""

from __future__ import annotations

from shared.messaging.topics import ensure_topics
from tests.support.infrastructure import Infrastructure
from tests.support.kafka import (
    TopicRecorder,
    check_in_due,
    drop_topics,
    event,
    eventually,
    isolated,
    publish_events,
)


async def test_a_record_read_again_after_a_rejoin_is_recorded_once(infrastructure: Infrastructure) -> None:
    kafka = isolated(infrastructure.kafka_bootstrap_servers)
    await ensure_topics(kafka, ["check-in-due"])
    recorder = TopicRecorder(kafka, ["check-in-due"])
    await recorder.start()
    try:
        await publish_events(kafka, *(event(check_in_due(check_in_id=f"ci-{n}")) for n in range(3)))

        async def all_read() -> bool:
            return len(recorder.records) >= 3

        await eventually(all_read)
        await recorder._consumer.seek_to_beginning()  # what a rejoin without committed offsets does
        await publish_events(kafka, event(check_in_due(check_in_id="ci-3")))

        async def the_fourth_read() -> bool:
            return any(b"ci-3" in r.value for r in recorder.records)

        await eventually(the_fourth_read)
        offsets = [(r.partition, r.offset) for r in recorder.records]
        assert len(offsets) == len(set(offsets)) == 4
    finally:
        await recorder.stop()
        await drop_topics(kafka)
