"""MongoDB round trips of one notice on the real service (issue 18: a tenth of the work per intake).

Counted with PyMongo's global command monitoring (the runtime's own client included), from
the event's publication until every delivery of the notice is recorded. What a test pins
here does not depend on timing: the recipient is read once, the claims are one insert,
deliveries attempted at once need no timer, and their outcomes are recorded together: one
bulk write of all of them and one removal of the events the inline publish sent (lease
releases and the timer worker's sweeps depend on timing and are not pinned).
`SHOW_ROUND_TRIPS=1 pytest -s` prints them all.

Measured for an intake-received notice to a client with e-mail and phone (three deliveries:
e-mail, SMS, in-app): 56 round trips before (each delivery by a timer; the recipient read
four times), 28 after; then 22 with the claims held through the records, and 18 with the
records written together (`update deliveries` 6 -> 2); all besides the consume pipeline's
own inbox read and write and the timer worker's sweeps. A session-booked event (client with
e-mail and phone, therapist with e-mail: five deliveries of two notices) went from 41 to 33
(`update deliveries` 10 -> 2).

Then the in-app inbox became the delivery log (one index document per recipient, written
when the deliveries are claimed; an in-app send inserts only its entry) and the logs of one
command were written together (`upsert_many`): the intake-received notice went from 18 to 14
(no `inboxes` lease, read, insert and release), the session-booked event from 33-35 to 26
(no `inboxes` lease, read and insert for either recipient; both logs' leases in one insert,
both new logs in one insert, their reads concurrent).

Then an in-app send stopped writing its entry (`insert inbox_entries`): the delivery keeps it,
written by the bulk write of the outcomes that happens anyway. The intake-received notice went
from 14 to 13 round trips, the session-booked event from 26 to 24 (one per in-app delivery).

Then a session new here was created by one insert with its cause, without its lease, read and
release: the session-booked event's own round trips (the consume pipeline's inbox and the
timer worker's sweeps aside) went from 15 to 12.

Then the delivery log moved from `delivery_logs` into `deliveries` (`log/{recipient_id}`, since
split by month: `log/{recipient_id}/{YYYY-MM}`), one
of the command's claims: a new log is written by the claims' insert (its read and insert
gone), one that exists is changed in the bulk write of the records (its replace gone). The
intake-received notice's own round trips went from 8 to 6, the session-booked event's from
12 to 9, a later notice to a recipient with a log (not lingering) from 8 to 7.

Then deliveries stopped taking leases: a claim is its unique insert, and a record checks the
revision the store inserted or last wrote (a claimer's first attempt is excluded by who
claimed it, `commands/notify.py`). The intake-received notice's own round trips went from 6
to 4 (the recipient's read, the claims' insert, the records' bulk write, the removal of their
sent events), the session-booked event's from 9 to 7, a later notice to a recipient whose log
this replica wrote from 7 to 4.

Then the removal of sent events went half a second later (`relay_removal_delay_seconds`), in one
write with every other document's due then: alone, as here, a notice still costs it; under load
many notices share it (`tests/integration/shared/test_outbox_removal_later.py`).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.notifications.store.indexes import log_id, month_of
from tests.bench.profiling import MongoCommands
from tests.integration.notifications.service import ADMIN, RunningNotifications, new_id, running_notifications
from tests.support.infrastructure import Infrastructure
from tests.support.isolation import isolated_place
from tests.support.kafka import eventually
from tests.unit.notifications import samples


@pytest.fixture(scope="module")
async def counted(
    infrastructure: Infrastructure, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[Counted]:
    """A notifications service whose MongoDB client was created after the listener went in."""
    commands = MongoCommands.install()
    async with (
        isolated_place(infrastructure, mongo_client, "notifications") as place,
        running_notifications(place.kafka, place.mongo, place.database) as service,
    ):
        yield Counted(service, commands, mongo_client[place.database])


@dataclass
class Counted:
    service: RunningNotifications
    commands: MongoCommands
    database: AsyncDatabase[Any]
    """Read through a client created before the listener: its reads are not counted."""

    async def let_go_of(self, *recipient_ids: str) -> None:
        """Wait until the registrations' leases went back: a recipient whose lease still lingers
        in the service is read from it, without a round trip, which these counts leave aside."""

        async def let_go() -> bool:
            leases = [f"recipients/{r}" for r in recipient_ids]
            return await self.database["locks"].count_documents({"_id": {"$in": leases}}) == 0

        await eventually(let_go, timeout=20.0, interval=0.05)

    async def all_sent(self, recipient_id: str) -> None:
        """Wait until none of the recipient's deliveries holds a pending event: the removal after
        an inline publish comes after the records `recorded` waits for, and would otherwise fall
        into the next count (no lease going back marks its end any more)."""

        async def sent() -> bool:
            pending = {"recipient_id": recipient_id, "_outbox_pending": {"$gt": 0}}
            return await self.database["deliveries"].count_documents(pending) == 0

        await eventually(sent, timeout=20.0, interval=0.05)

    @asynccontextmanager
    async def counting(self) -> AsyncIterator[Counter[str]]:
        """The service's round trips while the block runs, until no delivery holds a pending
        event (the removal of what the inline publish sent comes half a second after it), and
        half a second more, by command and collection."""
        seen: Counter[str] = Counter()
        with self.commands.recording():
            yield seen

            async def removed() -> bool:
                return await self.database["deliveries"].count_documents({"_outbox_pending": {"$gt": 0}}) == 0

            await eventually(removed, timeout=20.0, interval=0.05)
            await asyncio.sleep(0.5)
        seen.update(self.commands.counts())
        if os.environ.get("SHOW_ROUND_TRIPS"):
            print(sorted(seen.items()), sum(seen.values()))

    async def all_recorded(self, recipient_id: str, count: int) -> None:
        await self.recorded(recipient_id, ["delivered"] * count)

    async def recorded(self, recipient_id: str, statuses: list[str]) -> list[dict[str, Any]]:
        """The recipient's deliveries, by channel, once their statuses are `statuses` (in any order)."""
        found: list[dict[str, Any]] = []

        async def recorded() -> bool:
            deliveries = {"recipient_id": recipient_id, "channel": {"$ne": None}}  # not their log
            found[:] = await self.database["deliveries"].find(deliveries).to_list()
            return sorted(d["status"] for d in found) == sorted(statuses)

        await eventually(recorded, timeout=20.0, interval=0.05)
        return sorted(found, key=lambda d: d["channel"])


async def test_a_notice_due_now_reads_its_recipient_once_claims_in_one_insert_and_needs_no_timer(
    counted: Counted,
) -> None:
    n = counted.service
    client, phone = new_id("client"), "+15550002222"
    await n.register(client, email=f"{client}@example.org", phone=phone)
    await counted.let_go_of(client)

    async with counted.counting() as seen:
        await n.publish(samples.intake_completed(client))
        await counted.all_recorded(client, 3)

    assert seen["find recipients"] == 1
    assert seen["insert deliveries"] == 1
    assert seen["insert timers"] == seen["find timers_done"] == 0
    # The three outcomes in one bulk write, their three events' outbox entries removed in one
    # more (one of each per delivery, six, before they were recorded together).
    assert seen["update deliveries"] == 2
    # One index document, the delivery log, is the inbox too: new here, it is one of the claims,
    # inserted with the deliveries (in `delivery_logs` it cost a read and an insert of its own);
    # the in-app send writes nothing: its entry is in its record. No lease: the claims are the
    # unique inserts, and the records check the revision inserted (a lease insert and a release
    # for all of them before; two leases before that, three with an `inboxes` index).
    assert seen["insert locks"] == seen["delete locks"] == 0
    assert not seen.get("find deliveries")  # nothing read back: the store kept what it inserted
    assert not any(command.endswith(" delivery_logs") for command in seen)
    assert seen["insert inbox_entries"] == 0  # one before the delivery kept its entry
    assert seen["find inboxes"] == seen["insert inboxes"] == seen["update inboxes"] == 0


async def test_an_in_app_message_is_in_the_inbox_after_its_send_with_no_write_of_its_own(
    counted: Counted,
) -> None:
    n = counted.service
    client = new_id("client")
    await n.register(client, timezone="UTC")  # the in-app inbox only
    await counted.let_go_of(client)

    async with counted.counting() as seen:
        await n.publish(samples.check_in_due(client))
        (in_app,) = await counted.recorded(client, ["delivered"])

    # The claim, then one record of the outcome, holding the entry: nothing else writes it.
    assert seen["insert deliveries"] == 1
    assert seen["update deliveries"] == 2  # the record, then its sent event's removal
    assert seen["insert inbox_entries"] == seen["update inbox_entries"] == 0
    assert await counted.database["inbox_entries"].count_documents({}) == 0
    answer = await n.http.get(f"/v1/recipients/{client}/notifications", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    (item,) = answer.json()["items"]
    assert (item["id"], item["kind"], item["title"], item["read"]) == (
        in_app["_id"],
        "check_in_due",
        in_app["inbox_entry"]["title"],
        False,
    )
    assert (answer.json()["total"], answer.json()["unread"]) == (1, 1)


async def test_the_deliveries_of_two_notices_due_now_are_recorded_in_one_bulk_write(counted: Counted) -> None:
    n = counted.service
    client, therapist = new_id("client"), new_id("therapist")
    await n.register(client, email=f"{client}@example.org", phone="+15550003333")
    await n.register(therapist, role="therapist", email=f"{therapist}@example.org")
    await counted.let_go_of(client, therapist)

    async with counted.counting() as seen:
        await n.publish(samples.session_booked(client, therapist, session_id=new_id("session")))
        await counted.all_recorded(client, 3)
        await counted.all_recorded(therapist, 2)

    assert seen["find recipients"] == 2
    assert seen["insert deliveries"] == 1
    # Five outcomes of two notices: one bulk write, one removal of their events (ten before).
    assert seen["update deliveries"] == 2
    # The two recipients' logs, new here, claimed with the deliveries, both inserted by the
    # claims' insert (in `delivery_logs`: two reads and an insert more); in-app sends write
    # nothing. No lease (one insert and one release of all of them before; two with the
    # session's own, three with the logs' apart, six with one per log and per inbox index).
    assert seen["insert locks"] == seen["delete locks"] == 0
    assert not seen.get("find deliveries")
    assert not any(command.endswith(" delivery_logs") for command in seen)
    # The session, new here, is one insert with its cause: no lease, no read, no release (its
    # lease insert, read and release before: 15 round trips of the service's own, now 12).
    assert seen["insert sessions"] == 1 and not seen.get("find sessions")
    # Two reminders in one insert, with no look in timers_done: the session is new here.
    assert seen["insert timers"] == 1 and not seen.get("find timers_done")
    assert seen["insert inbox_entries"] == 0  # two before the deliveries kept their entries
    assert seen["find inboxes"] == seen["insert inboxes"] == seen["update inboxes"] == 0


async def logged_in(database: AsyncDatabase[Any], recipient_id: str) -> str:
    """The `_id` of the log listing the recipient's first delivery (of the month it was created in)."""
    first = await database["deliveries"].find_one({"recipient_id": recipient_id, "channel": "email"})
    assert first is not None
    return log_id(recipient_id, month_of(first["created_at"]))


async def test_a_log_this_replica_wrote_is_changed_unread_in_the_bulk_write_of_the_records(
    counted: Counted,
) -> None:
    n = counted.service
    client = new_id("client")
    await n.register(client, email=f"{client}@example.org", phone="+15550005555")
    await n.publish(samples.intake_completed(client))
    await counted.all_recorded(client, 3)
    await counted.let_go_of(client)
    log_id = await logged_in(counted.database, client)
    await counted.all_sent(client)

    async with counted.counting() as seen:
        await n.publish(samples.match_accepted(client))
        await counted.all_recorded(client, 6)

    # The log's claim is refused in the claims' insert; its change goes in the bulk write of the
    # three records, from the copy the store kept when it last wrote it (read once under a
    # lease taken with the claims' before; in `delivery_logs` a read and a replace of its own).
    assert seen["insert deliveries"] == 1
    assert seen["insert locks"] == seen["find deliveries"] == 0
    assert seen["update deliveries"] == 2  # the records with the log, then the sent events' removal
    assert not any(command.endswith(" delivery_logs") for command in seen)
    log = await counted.database["deliveries"].find_one({"_id": log_id})
    assert log is not None and len(log["deliveries"]) == 6 and len(log["unread"]) == 2


async def test_a_failing_channel_next_to_succeeding_ones_is_recorded_with_them_and_gets_its_retry_timer(
    counted: Counted,
) -> None:
    n = counted.service
    client, phone = new_id("client"), "+15550004444"
    await n.register(client, email=f"{client}@example.org", phone=phone)
    await counted.let_go_of(client)
    n.provider.fail_next(1, status=503)  # the SMS; the e-mail goes by SMTP, the in-app entry in-house

    async with counted.counting() as seen:
        await n.publish(samples.intake_completed(client))
        email, in_app, sms = await counted.recorded(client, ["delivered", "delivered", "retrying"])

    assert [d["channel"] for d in (email, in_app, sms)] == ["email", "in_app", "sms"]
    assert (email["status"], in_app["status"]) == ("delivered", "delivered")
    assert (sms["status"], sms["last_error"], sms["attempts"]) == ("retrying", "provider_503", 1)
    timer = await counted.database["timers"].find_one({"_id": f"deliver:{sms['_id']}:1"})
    assert timer is not None and timer["due_at"] == sms["next_attempt_at"]
    # All three outcomes in one bulk write; the two delivered ones' events removed in one more.
    assert seen["update deliveries"] == 2
    assert seen["insert timers"] == 1  # the retry's, and no other
