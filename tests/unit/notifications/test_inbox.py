"""The in-app inbox served from the delivery log: listed unread at the claim, shown once its
delivery, delivered, keeps its entry (or a legacy entry exists)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.notifications.commands.read_inbox_entry import ReadInboxEntry, read_inbox_entry
from services.notifications.domain.delivery import INBOX_ENTRY, DeliveryStatus
from services.notifications.handlers.on_check_in_due import on_check_in_due
from services.notifications.handlers.on_session_booked import on_session_booked
from services.notifications.handlers.on_session_rescheduled import on_session_rescheduled
from services.notifications.store.inbox import inbox_entry, inbox_page
from services.notifications.store.indexes import (
    LISTED_MONTHS,
    listed_months,
    log_id,
    log_of,
    logged,
    month_of,
    read,
    unmonthed_log_id,
)
from shared.storage import Document
from shared.storage.documents import Change, Revision
from tests.support.fakes import InMemoryDocuments
from tests.unit.notifications import samples
from tests.unit.notifications.harness import Harness, envelope_of, harness

QUIET_NIGHTS = {"start": "22:00", "end": "07:00"}


def delivery(delivery_id: str, channel: str, status: str = DeliveryStatus.pending) -> Document:
    return {"_id": delivery_id, "channel": channel, "status": status}


async def shown(h: Harness, recipient_id: str = "client-1") -> tuple[list[str], int, set[str]]:
    inbox = await inbox_page(h.stores, recipient_id, now=h.clock.now, offset=0, limit=20)
    return [e["_id"] for e in inbox.entries], inbox.total, set(inbox.unread)


async def test_an_in_app_message_is_in_the_inbox_unread_after_the_event_and_marking_it_read_sticks() -> None:
    h = harness()
    event = samples.check_in_due()

    await on_check_in_due(h.ctx)(event, envelope_of(event))

    (entry_id,), total, unread = await shown(h)
    assert (total, unread) == (1, {entry_id})
    assert await read_inbox_entry(ReadInboxEntry("client-1", entry_id), h.ctx) == set()
    assert await read_inbox_entry(ReadInboxEntry("client-1", entry_id), h.ctx) == set()  # again is fine
    assert await shown(h) == ([entry_id], 1, set())


async def test_an_in_app_send_writes_nothing_its_entry_goes_in_with_its_delivered_record() -> None:
    h = harness()
    event = samples.check_in_due()

    await on_check_in_due(h.ctx)(event, envelope_of(event))

    log = await log_of(h.stores, "client-1", h.clock.now)
    assert log is not None
    assert log["in_app"] == log["unread"] == log["deliveries"] and log["held"] == []
    assert await h.stores.inboxes.get("client-1") is None
    assert await h.stores.inbox_entries.find({}) == []
    (in_app,) = await h.stores.deliveries.find({"channel": "in_app"})
    assert in_app["status"] == DeliveryStatus.delivered
    assert set(in_app[INBOX_ENTRY]) == {"title", "body", "locale"} and in_app[INBOX_ENTRY]["title"]
    (entry,) = (await inbox_page(h.stores, "client-1", now=h.clock.now, offset=0, limit=20)).entries
    assert entry == {
        **in_app[INBOX_ENTRY],
        "_id": in_app["_id"],
        "recipient_id": "client-1",
        "kind": "check_in_due",
        "critical": False,
        "created_at": in_app["delivered_at"],
    }


class LosingRecords(InMemoryDocuments):
    """Dies at the first record of a command's outcomes: the sends went, nothing was recorded."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.dies = True

    async def update_many(self, changes: Sequence[tuple[str, Change]], *, cause: Any = None) -> Any:
        if self.dies:
            self.dies = False
            raise ConnectionResetError("the process died here")
        return await super().update_many(changes, cause=cause)


async def test_an_in_app_message_sent_again_after_its_record_was_lost_is_shown_once() -> None:
    h = harness()
    object.__setattr__(h.stores, "deliveries", LosingRecords("deliveries"))
    event = samples.check_in_due()
    envelope = envelope_of(event)

    with pytest.raises(ConnectionResetError):
        await on_check_in_due(h.ctx)(event, envelope)
    (in_app,) = await h.stores.deliveries.find({"channel": "in_app"})
    assert await shown(h) == ([], 0, set())  # sent, not recorded: nothing to show yet

    await on_check_in_due(h.ctx)(event, envelope)  # the event comes again: its timer sends it
    await h.run_due_timers()

    assert await shown(h) == ([in_app["_id"]], 1, {in_app["_id"]})
    assert await h.stores.inbox_entries.find({}) == []


async def test_a_held_in_app_delivery_is_neither_shown_nor_unread_until_its_entry_exists() -> None:
    h = harness()
    h.clock.now = samples.NOW.replace(hour=4)  # 23:00 in New York
    await h.register("client-1", email="client@example.org")
    await h.prefer("client-1", quiet_hours=QUIET_NIGHTS)
    event = samples.check_in_due()

    await on_check_in_due(h.ctx)(event, envelope_of(event))

    (in_app,) = await h.stores.deliveries.find({"channel": "in_app"})
    assert in_app["status"] == DeliveryStatus.held
    log = await log_of(h.stores, "client-1", h.clock.now)
    assert log is not None and log["held"] == [in_app["_id"]] and log["unread"] == [in_app["_id"]]
    assert await shown(h) == ([], 0, set())

    await h.advance(timedelta(hours=8))  # quiet hours end: the timer sends it

    assert await shown(h) == ([in_app["_id"]], 1, {in_app["_id"]})
    await read_inbox_entry(ReadInboxEntry("client-1", in_app["_id"]), h.ctx)
    log = await log_of(h.stores, "client-1", h.clock.now)
    assert log is not None and log["held"] == log["unread"] == []  # its entry exists: no longer looked up
    assert await shown(h) == ([in_app["_id"]], 1, set())


class CountedDeliveries(InMemoryDocuments):
    """The deliveries store's claims (ids of each `insert_many`), grouped writes (each `update_many`)."""

    def __init__(self) -> None:
        super().__init__("deliveries")
        self.claims: list[list[str]] = []
        self.together: list[list[str]] = []

    async def insert_many(self, documents: Sequence[Mapping[str, Any]]) -> set[str]:
        self.claims.append([d["_id"] for d in documents])
        return await super().insert_many(documents)

    async def update_many(
        self, changes: Sequence[tuple[str, Change]], *, cause: Any = None
    ) -> dict[str, Document | None]:
        self.together.append([document_id for document_id, _ in changes])
        return await super().update_many(changes, cause=cause)


async def test_a_first_log_is_claimed_with_the_deliveries_a_later_one_changed_with_their_records() -> None:
    h = harness()
    deliveries = CountedDeliveries()
    object.__setattr__(h.stores, "deliveries", deliveries)
    await h.register("client-1", email="client@example.org")
    await h.register("therapist-1", role="therapist", email="therapist@example.org")
    event = samples.session_booked()

    await on_session_booked(h.ctx)(event, envelope_of(event))

    logs = [log_id("client-1", month_of(h.clock.now)), log_id("therapist-1", month_of(h.clock.now))]
    (claimed,) = deliveries.claims
    assert claimed[-2:] == logs  # inserted by the claims' own insert: no write of their own
    (recorded,) = deliveries.together
    assert not set(recorded) & set(logs)  # new: nothing more to write
    for recipient_id in ("client-1", "therapist-1"):
        log = await log_of(h.stores, recipient_id, h.clock.now)
        assert log is not None and len(log["deliveries"]) == 2 and len(log["in_app"]) == 1
        assert log["recipient_id"] == recipient_id

    again = samples.session_rescheduled(starts_at=samples.STARTS + timedelta(days=1))
    await on_session_rescheduled(h.ctx)(again, envelope_of(again))

    later = deliveries.together[-1]
    assert set(logs) <= set(later) and len(later) == 6  # four records and two logs in one write
    for recipient_id in ("client-1", "therapist-1"):
        log = await log_of(h.stores, recipient_id, h.clock.now)
        assert log is not None and len(log["deliveries"]) == 4 and len(log["in_app"]) == 2


async def test_a_log_kept_in_delivery_logs_before_it_moved_is_still_listed_after_the_current_one() -> None:
    h = harness()
    old = ["old:client-1:in_app"]
    await h.stores.delivery_logs.insert({"_id": "client-1", "deliveries": old, "in_app": old, "unread": []})
    event = samples.check_in_due()

    await on_check_in_due(h.ctx)(event, envelope_of(event))

    log = await log_of(h.stores, "client-1", h.clock.now)
    assert log is not None
    (in_app,) = await h.stores.deliveries.find({"channel": "in_app"})
    assert log["deliveries"] == log["in_app"] == [in_app["_id"], "old:client-1:in_app"]
    assert log["unread"] == [in_app["_id"]]


def test_two_notices_of_one_recipient_are_one_change_listing_them_newest_first() -> None:
    first = [delivery("e:c:email", "email"), delivery("e:c:in_app", "in_app")]
    second = [delivery("f:c:in_app", "in_app", DeliveryStatus.held)]
    log: Document = {"deliveries": ["old:c:sms"], "in_app": [], "unread": [], "held": []}

    revision = logged([*first, *second])(log)

    assert revision is not None
    assert revision.document["deliveries"] == ["f:c:in_app", "e:c:in_app", "e:c:email", "old:c:sms"]
    assert revision.document["in_app"] == revision.document["unread"] == ["f:c:in_app", "e:c:in_app"]
    assert revision.document["held"] == ["f:c:in_app"]
    assert logged(first)(dict(revision.document)) is None  # listed already: no write


def test_marking_read_an_entry_neither_unread_nor_held_changes_nothing() -> None:
    assert read("x")({"in_app": ["x"], "unread": [], "held": []}) is None
    assert read("x")(None) is None


async def test_an_entry_sent_before_deliveries_kept_theirs_is_still_shown_and_marked_read() -> None:
    h = harness()
    event = samples.check_in_due()
    await on_check_in_due(h.ctx)(event, envelope_of(event))
    (in_app,) = await h.stores.deliveries.find({"channel": "in_app"})
    # As stored before: the delivery delivered without its entry, the entry in `inbox_entries`.
    legacy = {k: v for k, v in in_app.items() if k != INBOX_ENTRY}
    await h.stores.deliveries.update(in_app["_id"], lambda _: Revision(legacy))
    await h.stores.inbox_entries.insert(
        {
            "_id": in_app["_id"],
            "recipient_id": "client-1",
            "kind": "check_in_due",
            "critical": False,
            "title": "sent before",
            "body": "b",
            "locale": "en",
            "created_at": samples.NOW,
        }
    )

    inbox = await inbox_page(h.stores, "client-1", now=h.clock.now, offset=0, limit=20)
    assert [(e["_id"], e["title"]) for e in inbox.entries] == [(in_app["_id"], "sent before")]
    assert await inbox_entry(h.stores, in_app["_id"]) == inbox.entries[0]
    assert await read_inbox_entry(ReadInboxEntry("client-1", in_app["_id"]), h.ctx) == set()
    assert await shown(h) == ([in_app["_id"]], 1, set())


async def test_a_delivery_not_delivered_has_no_entry_even_with_an_old_one_of_its_id() -> None:
    h = harness()
    h.clock.now = samples.NOW.replace(hour=4)  # 23:00 in New York
    await h.prefer("client-1", quiet_hours=QUIET_NIGHTS)
    event = samples.check_in_due()
    await on_check_in_due(h.ctx)(event, envelope_of(event))
    (held,) = await h.stores.deliveries.find({"channel": "in_app"})
    await h.stores.inbox_entries.insert({"_id": held["_id"], "recipient_id": "client-1", "title": "t"})

    assert held["status"] == DeliveryStatus.held
    assert await inbox_entry(h.stores, held["_id"]) is None
    assert await shown(h) == ([], 0, set())


async def test_an_inbox_index_from_before_issue_18_is_still_shown_after_the_new_entries_and_read() -> None:
    h = harness()
    await h.stores.inboxes.upsert(
        "client-1", lambda _: Revision({"entries": ["old-2", "old-1"], "unread": ["old-2"]})
    )
    for old in ("old-1", "old-2"):
        await h.stores.inbox_entries.insert(
            {"_id": old, "recipient_id": "client-1", "kind": "check_in_due", "title": "t", "body": "b"}
        )
    event = samples.check_in_due()
    await on_check_in_due(h.ctx)(event, envelope_of(event))
    new = (await shown(h))[0][0]

    assert await shown(h) == ([new, "old-2", "old-1"], 3, {new, "old-2"})
    assert "old-2" not in await read_inbox_entry(ReadInboxEntry("client-1", "old-2"), h.ctx)
    assert await shown(h) == ([new, "old-2", "old-1"], 3, {new})


# ------------------------------------------------------------------------- one log per month


async def check_in_due_now(h: Harness, check_in_id: str) -> str:
    """A check-in due in three days is announced now; returns its in-app delivery's id."""
    event = samples.check_in_due(check_in_id=check_in_id, due_at=h.clock.now + timedelta(days=3))
    envelope = envelope_of(event)
    await on_check_in_due(h.ctx)(event, envelope)
    (in_app,) = await h.stores.deliveries.find({"channel": "in_app", "event_id": envelope.id})
    return str(in_app["_id"])


def test_the_listed_months_are_this_one_and_the_twelve_before_across_a_new_year() -> None:
    months = listed_months(datetime(2026, 3, 31, 23, 59, tzinfo=UTC))

    assert months[:4] == ["2026-03", "2026-02", "2026-01", "2025-12"]
    assert len(months) == LISTED_MONTHS == 13 and months[-1] == "2025-03"


async def test_each_month_has_its_own_log_and_the_inbox_lists_this_month_and_the_twelve_before() -> None:
    h = harness()
    march = await check_in_due_now(h, "checkin-march")
    h.clock.advance(timedelta(days=31))
    april = await check_in_due_now(h, "checkin-april")

    for entry_id, month in ((march, "2026-03"), (april, "2026-04")):
        log = await h.stores.deliveries.get(log_id("client-1", month))
        assert log is not None and log["in_app"] == [entry_id] and log["recipient_id"] == "client-1"
    assert await shown(h) == ([april, march], 2, {april, march})

    await read_inbox_entry(ReadInboxEntry("client-1", march), h.ctx)  # the March log is the one written
    march_log = await h.stores.deliveries.get(log_id("client-1", "2026-03"))
    assert march_log is not None and march_log["unread"] == []
    assert await shown(h) == ([april, march], 2, {april})

    h.clock.advance(timedelta(days=365))  # March 2026 is thirteen months back
    assert await shown(h) == ([april], 1, {april})
    assert await h.stores.deliveries.get(march) is not None  # kept, only no longer listed


async def test_a_log_from_before_the_month_split_is_listed_after_the_monthly_ones_and_marked_read() -> None:
    h = harness()
    before = await check_in_due_now(h, "checkin-before")
    current = log_id("client-1", month_of(h.clock.now))
    log = await h.stores.deliveries.get(current)
    assert log is not None
    # As stored before the split: the same listing under the recipient's one log.
    await h.stores.deliveries.insert({**log, "_id": unmonthed_log_id("client-1")})
    await h.stores.deliveries.delete(current)
    after = await check_in_due_now(h, "checkin-after")

    assert await shown(h) == ([after, before], 2, {after, before})
    await read_inbox_entry(ReadInboxEntry("client-1", before), h.ctx)
    assert await shown(h) == ([after, before], 2, {after})
