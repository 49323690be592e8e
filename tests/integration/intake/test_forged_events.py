"""A forged event grants nothing: only the producer the registry names may speak for a topic.

Kafka's ACLs keep other services' principals off a topic; the consumer holds the line even
where they are missing or too wide (DESIGN §8): a `session-booked` that does not come from
scheduling is dead-lettered as `unexpected_source` before any handler runs, and the
partition moves on to the next genuine event.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pymongo import AsyncMongoClient

from shared.http.auth import Role
from shared.messaging.dead_letters import DLQ_HEADERS
from tests.integration.intake.service import (
    RunningIntake,
    answers_with,
    as_client,
    bearer,
    headers_of,
    new_id,
    relate,
)
from tests.support.kafka import event, publish_events, read_records
from tests.unit.intake import samples


async def test_a_session_booked_sent_as_intake_is_dead_lettered_and_grants_no_access(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any]
) -> None:
    client_id, attacker, therapist = new_id("client"), new_id("therapist"), new_id("therapist")
    me = as_client(client_id)
    created = await intake.http.post(
        "/v1/intakes", json={"client_id": client_id, **samples.complete_sections()}, headers=me
    )
    assert (
        await intake.http.post(f"/v1/intakes/{created.json()['id']}/submit", headers=me)
    ).status_code == 200
    await relate(intake, samples.proposed(client_id, attacker, therapist))
    await answers_with(intake, 200, f"/v1/clients/{client_id}/referral", bearer(attacker, Role.clinician))

    # What anyone with intake's (or any) credentials could write: the booking that would choose
    # the attacker, were it scheduling's.
    genuine_looking = event(samples.booked(client_id, attacker, by="client"))
    forged = replace(genuine_looking, envelope=replace(genuine_looking.envelope, source="/carepath/intake"))
    await publish_events(intake.kafka, forged)

    dead_letter_topic = intake.kafka.topic("session-booked.dlq")
    (letter,) = await read_records(intake.kafka, dead_letter_topic, expect=1)
    dead = headers_of(letter)
    assert dead["ce_id"] == forged.envelope.id and dead["ce_source"] == "/carepath/intake"
    assert dead[DLQ_HEADERS.reason] == "unexpected_source"
    assert dead[DLQ_HEADERS.error] == "ce_source is not /carepath/scheduling"  # the expected, never the sent
    assert dead[DLQ_HEADERS.consumer] == intake.settings.group_id
    assert letter.value == forged.value()

    # No effect: the attacker, still only proposed, reads the referral summary and nothing more.
    records = f"/v1/clients/{client_id}/intakes"
    assert (await intake.http.get(records, headers=bearer(attacker, Role.clinician))).status_code == 404

    # Not stuck: the genuine booking after it, on the same partition (same client key), is handled.
    await publish_events(intake.kafka, event(samples.booked(client_id, therapist, by="client")))
    await answers_with(intake, 200, records, bearer(therapist, Role.clinician))
    assert (await intake.http.get(records, headers=bearer(attacker, Role.clinician))).status_code == 404
    inbox = mongo_client[intake.settings.database_name]["inbox"]
    assert await inbox.find_one({"_id": f"{intake.settings.group_id}/{forged.envelope.id}"}) is None
