"""Each care relationship state and transition, on the real broker and database: who reads and writes what.

The README's table, route by route: a proposed therapist reads the referral summary only;
a chosen one (accepted, or whose introduction the client booked) reads the record but
cannot write the plan yet (409 `not_in_care`); the therapist in care (introduction held)
writes it; after a switch, a decline, a completed plan or an expired proposal the
therapist gets 404 everywhere, as if the client did not exist. Every refusal is in the
audit collection with the relationship state that refused it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient

from shared.http.auth import Role
from tests.integration.intake.service import (
    ADMIN,
    RunningIntake,
    answers_with,
    as_client,
    bearer,
    chosen,
    due,
    handled,
    in_care,
    new_id,
    pending_check_in,
    relate,
)
from tests.support.kafka import publish_events
from tests.unit.intake import samples

PLAN: dict[str, Any] = {"approach": "cbt", "session_cadence": "biweekly"}

REFERRAL_ONLY = {"referral": 200, "record": 404, "write": 404}
CHOSEN = {"referral": 200, "record": 200, "write": 409}
IN_CARE = {"referral": 200, "record": 200, "write": 201}
NOTHING = {"referral": 404, "record": 404, "write": 404}


@dataclass(frozen=True)
class Client:
    """A client with a submitted intake and a pending check-in: every record route has something to show."""

    id: str
    intake_id: str
    check_in_id: str

    def record_reads(self, *, with_plan: bool) -> list[str]:
        reads = [
            f"/v1/clients/{self.id}/intakes",
            f"/v1/intakes/{self.intake_id}",
            f"/v1/intakes/{self.intake_id}/fhir",
            f"/v1/clients/{self.id}/check-ins",
            f"/v1/check-ins/{self.check_in_id}",
            f"/v1/clients/{self.id}/treatment-plan/versions",
        ]
        return [*reads, f"/v1/clients/{self.id}/treatment-plan"] if with_plan else reads


async def a_client(intake: RunningIntake) -> Client:
    client_id = new_id("client")
    me = as_client(client_id)
    created = await intake.http.post(
        "/v1/intakes", json={"client_id": client_id, **samples.complete_sections()}, headers=me
    )
    intake_id = created.json()["id"]
    assert (await intake.http.post(f"/v1/intakes/{intake_id}/submit", headers=me)).status_code == 200
    check_in_id = "ci-" + client_id
    await publish_events(intake.kafka, due(client_id, "therapist-scheduled", check_in_id, intake_id))
    await pending_check_in(intake, client_id, check_in_id)
    return Client(client_id, intake_id, check_in_id)


def clinician(therapist_id: str) -> dict[str, str]:
    return bearer(therapist_id, Role.clinician)


async def what_they_get(
    intake: RunningIntake, client: Client, therapist_id: str, *, with_plan: bool = False
) -> dict[str, int]:
    """The therapist's answer on the referral, on every record read (all alike) and on writing the plan."""
    theirs = clinician(therapist_id)
    referral = await intake.http.get(f"/v1/clients/{client.id}/referral", headers=theirs)
    reads = {
        path: (await intake.http.get(path, headers=theirs)).status_code
        for path in client.record_reads(with_plan=with_plan)
    }
    assert len(set(reads.values())) == 1, reads  # every record route answers alike
    write = await intake.http.put(f"/v1/clients/{client.id}/treatment-plan", json=PLAN, headers=theirs)
    if write.status_code == 409:
        assert write.json()["code"] == "not_in_care", write.text
    return {
        "referral": referral.status_code,
        "record": next(iter(reads.values())),
        "write": 201 if write.status_code == 200 else write.status_code,  # 200: that plan again
    }


async def refusals(
    mongo: AsyncMongoClient[Any], intake: RunningIntake, client: Client, therapist_id: str, *, since: datetime
) -> set[str]:
    """The relationship states the audit trail names for this therapist's refusals since `since`.

    (Earlier ones are the test's own polling while the events were on their way.)
    """
    audit = mongo[intake.settings.database_name]["audit"]
    query = {"actor": therapist_id, "client_id": client.id, "action": "refused", "at": {"$gte": since}}
    return {str(e["basis"]) async for e in audit.find(query)}


async def test_a_proposed_therapist_reads_the_referral_summary_only(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any]
) -> None:
    client, therapist = await a_client(intake), new_id("therapist")
    await relate(intake, samples.proposed(client.id, therapist))
    await answers_with(intake, 200, f"/v1/clients/{client.id}/referral", clinician(therapist))
    since = datetime.now(UTC)
    assert await what_they_get(intake, client, therapist) == REFERRAL_ONLY
    assert await refusals(mongo_client, intake, client, therapist, since=since) == {"proposed"}


async def test_accepting_a_proposal_lets_the_chosen_therapist_read_the_record_but_not_write_the_plan(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any]
) -> None:
    client, therapist, other = await a_client(intake), new_id("therapist"), new_id("therapist")
    await relate(intake, samples.proposed(client.id, therapist, other))
    await answers_with(intake, 200, f"/v1/clients/{client.id}/referral", clinician(other))
    await relate(intake, samples.accepted(client.id, therapist))
    await answers_with(intake, 200, f"/v1/clients/{client.id}/intakes", clinician(therapist))
    since = datetime.now(UTC)
    assert await what_they_get(intake, client, therapist) == CHOSEN
    assert await what_they_get(intake, client, other) == NOTHING  # the candidate not chosen
    assert await refusals(mongo_client, intake, client, therapist, since=since) == {"chosen"}  # the plan
    assert await refusals(mongo_client, intake, client, other, since=since) == {"withdrawn"}


async def test_the_client_booking_a_proposed_therapists_introduction_chooses_them_a_system_booking_does_not(
    intake: RunningIntake,
) -> None:
    client, therapist, auto_booked = await a_client(intake), new_id("therapist"), new_id("therapist")
    await relate(intake, samples.proposed(client.id, auto_booked, therapist))
    await answers_with(intake, 200, f"/v1/clients/{client.id}/referral", clinician(therapist))
    await relate(intake, samples.booked(client.id, auto_booked, by="system"))  # book_at_once grants nothing
    await relate(intake, samples.booked(client.id, therapist, by="client"))
    await answers_with(intake, 200, f"/v1/clients/{client.id}/intakes", clinician(therapist))
    assert await what_they_get(intake, client, therapist) == CHOSEN
    assert await what_they_get(intake, client, auto_booked) == NOTHING


async def test_a_held_introduction_puts_the_client_in_care_with_the_one_therapist_who_writes_the_plan(
    intake: RunningIntake,
) -> None:
    client, therapist = await a_client(intake), new_id("therapist")
    await chosen(intake, client.id, therapist)
    admin_early = await intake.http.put(f"/v1/clients/{client.id}/treatment-plan", json=PLAN, headers=ADMIN)
    assert (admin_early.status_code, admin_early.json()["code"]) == (409, "not_in_care")
    await in_care(intake, client.id, therapist)
    assert await what_they_get(intake, client, therapist) == IN_CARE
    assert await what_they_get(intake, client, therapist, with_plan=True) == IN_CARE
    by_admin = await intake.http.put(
        f"/v1/clients/{client.id}/treatment-plan", json={**PLAN, "approach": "act"}, headers=ADMIN
    )
    assert (by_admin.status_code, by_admin.json()["therapist_id"]) == (201, therapist)


async def test_a_no_show_leaves_the_client_with_the_chosen_therapist_and_the_plan_unwritten(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any]
) -> None:
    client, therapist = await a_client(intake), new_id("therapist")
    await chosen(intake, client.id, therapist)
    await handled(intake, mongo_client, samples.attended(client.id, therapist, "no_show"))
    assert await what_they_get(intake, client, therapist) == CHOSEN
    named = {**PLAN, "therapist_id": therapist}
    by_admin = await intake.http.put(f"/v1/clients/{client.id}/treatment-plan", json=named, headers=ADMIN)
    assert (by_admin.status_code, by_admin.json()["code"]) == (409, "not_in_care")


async def test_after_a_switch_the_former_therapist_gets_404_on_every_route(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any]
) -> None:
    client, former, new = await a_client(intake), new_id("therapist"), new_id("therapist")
    await in_care(intake, client.id, former)
    put = await intake.http.put(
        f"/v1/clients/{client.id}/treatment-plan", json=PLAN, headers=clinician(former)
    )
    assert put.status_code == 201
    await relate(
        intake,
        samples.proposed(client.id, new, match_id="match-2", origin="switch"),
        samples.accepted(client.id, new, match_id="match-2"),
    )
    await answers_with(intake, 404, f"/v1/clients/{client.id}/intakes", clinician(former))
    since = datetime.now(UTC)
    assert await what_they_get(intake, client, former, with_plan=True) == NOTHING
    assert await refusals(mongo_client, intake, client, former, since=since) == {"ended"}
    await answers_with(intake, 200, f"/v1/clients/{client.id}/intakes", clinician(new))
    assert await what_they_get(intake, client, new, with_plan=True) == CHOSEN
    completed = {**PLAN, "status": "completed"}  # the report: the former therapist ends the new care
    ended_by_former = await intake.http.put(
        f"/v1/clients/{client.id}/treatment-plan", json=completed, headers=clinician(former)
    )
    assert ended_by_former.status_code == 404


async def test_a_declined_therapist_gets_404_on_every_route(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any]
) -> None:
    client, therapist = await a_client(intake), new_id("therapist")
    await chosen(intake, client.id, therapist)
    await relate(intake, samples.declined(client.id, therapist))
    await answers_with(intake, 404, f"/v1/clients/{client.id}/intakes", clinician(therapist))
    since = datetime.now(UTC)
    assert await what_they_get(intake, client, therapist) == NOTHING
    assert await refusals(mongo_client, intake, client, therapist, since=since) == {"ended"}


async def test_a_completed_plan_ends_care_and_the_therapist_gets_404_on_every_route(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any]
) -> None:
    client, therapist = await a_client(intake), new_id("therapist")
    await in_care(intake, client.id, therapist)
    url = f"/v1/clients/{client.id}/treatment-plan"
    assert (await intake.http.put(url, json=PLAN, headers=clinician(therapist))).status_code == 201
    completed = await intake.http.put(url, json={**PLAN, "status": "completed"}, headers=clinician(therapist))
    assert completed.status_code == 201
    since = datetime.now(UTC)
    assert await what_they_get(intake, client, therapist, with_plan=True) == NOTHING
    assert await refusals(mongo_client, intake, client, therapist, since=since) == {"ended"}
    versions = await intake.http.get(f"{url}/versions", headers=as_client(client.id))
    assert [v["status"] for v in versions.json()] == ["active", "completed"]  # the client keeps it all


async def test_an_expired_proposal_shows_the_therapist_nothing(
    intake: RunningIntake, mongo_client: AsyncMongoClient[Any]
) -> None:
    client, therapist = await a_client(intake), new_id("therapist")
    expires = datetime.now(UTC) + timedelta(seconds=3)
    await relate(intake, samples.proposed(client.id, therapist, expires_at=expires))
    await answers_with(intake, 200, f"/v1/clients/{client.id}/referral", clinician(therapist))
    await answers_with(intake, 404, f"/v1/clients/{client.id}/referral", clinician(therapist))
    since = datetime.now(UTC)
    assert await what_they_get(intake, client, therapist) == NOTHING
    assert await refusals(mongo_client, intake, client, therapist, since=since) == {"withdrawn"}
