"""A delivery due now is attempted by `notify` itself: at once, concurrently, bounded by a timeout.

Timers are left for quiet hours and retries; a crash between the claim and the record is
covered by the event coming again (its claim finds the delivery undecided and gives it its
timer); each recipient is read once per notice; the outcomes of a command's at-once
attempts are recorded together, in one `update_many`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta

import pytest

from services.notifications.channels import Outbound, transient
from services.notifications.commands.deliver import ATTEMPT_TIMEOUT
from services.notifications.domain.delivery import DeliveryStatus
from services.notifications.handlers.on_check_in_due import on_check_in_due
from services.notifications.handlers.on_intake_completed import on_intake_completed
from services.notifications.handlers.on_match_accepted import on_match_accepted
from services.notifications.handlers.on_risk_flagged import on_risk_flagged
from services.notifications.handlers.on_session_booked import on_session_booked
from services.notifications.store.indexes import log_id, month_of
from shared.events.envelope import Envelope
from shared.storage import Document
from shared.storage.documents import Change
from shared.storage.locks import LockTimeout
from tests.unit.notifications import samples
from tests.unit.notifications.harness import Harness, RecordingSender, envelope_of, harness

PHONE = "+15550001111"


def delivery_timers(h: Harness) -> list[str]:
    return [timer_id for timer_id in h.timers.pending() if timer_id.startswith("deliver:")]


class SlowSender(RecordingSender):
    """Answers after `seconds`: a provider slower than the attempt timeout."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.started = 0

    async def send(self, outbound: Outbound) -> None:
        self.started += 1
        await asyncio.sleep(self.seconds)
        await super().send(outbound)


class MeetingSender(RecordingSender):
    """Sends only once `count` sends are under way together: attempts made one by one never meet."""

    def __init__(self, meeting: asyncio.Barrier) -> None:
        super().__init__()
        self.meeting = meeting

    async def send(self, outbound: Outbound) -> None:
        await self.meeting.wait()
        await super().send(outbound)


class DyingSender(RecordingSender):
    """Raises what is no delivery failure, once: the attempt ends without an outcome, as in a crash."""

    def __init__(self) -> None:
        super().__init__()
        self.dies = True

    async def send(self, outbound: Outbound) -> None:
        if self.dies:
            self.dies = False
            raise ConnectionResetError("the process died here")
        await super().send(outbound)


def with_sender(h: Harness, channel: str, sender: RecordingSender) -> Harness:
    h.senders[channel] = sender
    senders = {**h.ctx.senders, channel: sender}
    return replace(h, ctx=replace(h.ctx, senders=senders))  # type: ignore[arg-type]


async def test_a_message_due_now_is_sent_by_the_handler_itself_with_no_timer() -> None:
    h = harness()
    await h.register("client-1", email="client@example.org", phone=PHONE)
    event = samples.check_in_due()

    await on_check_in_due(h.ctx)(event, envelope_of(event))  # no timer runs

    assert [o.address for o in h.sent("email")] == ["client@example.org"]
    assert [o.address for o in h.sent("sms")] == [PHONE]
    assert len(h.events("notification-delivered")) == 3  # e-mail, SMS, in-app
    assert delivery_timers(h) == []


async def test_a_message_held_by_quiet_hours_gets_a_timer_instead_of_an_attempt() -> None:
    h = harness()
    h.clock.now = samples.NOW.replace(hour=4)  # 23:00 in New York
    await h.register("client-1", email="client@example.org")
    await h.prefer("client-1", quiet_hours={"start": "22:00", "end": "07:00"})
    event = samples.check_in_due()

    await on_check_in_due(h.ctx)(event, envelope_of(event))

    assert h.sent("email") == []
    assert sorted(timer.rsplit(":", 2)[1] for timer in delivery_timers(h)) == ["email", "in_app"]


async def test_all_deliveries_of_a_notice_are_attempted_together() -> None:
    h = harness()
    meeting = asyncio.Barrier(2)
    h = with_sender(with_sender(h, "email", MeetingSender(meeting)), "sms", MeetingSender(meeting))
    await h.register("client-1", email="client@example.org", phone=PHONE)
    event = samples.intake_completed()

    await asyncio.wait_for(on_intake_completed(h.ctx)(event, envelope_of(event)), timeout=5)

    assert (len(h.sent("email")), len(h.sent("sms"))) == (1, 1)


async def test_an_attempt_outlasting_the_timeout_is_a_transient_failure_retried_by_timer() -> None:
    h = harness()
    slow = SlowSender(seconds=5.0)
    h = with_sender(h, "email", slow)
    h = replace(h, ctx=replace(h.ctx, policy=replace(h.ctx.policy, attempt_timeout_seconds=0.05)))
    await h.register("client-1", email="client@example.org")
    event = samples.intake_completed()

    await on_intake_completed(h.ctx)(event, envelope_of(event))

    (email,) = await h.stores.deliveries.find({"channel": "email"})
    assert (email["status"], email["last_error"], email["attempts"]) == (
        DeliveryStatus.retrying,
        ATTEMPT_TIMEOUT,
        1,
    )
    assert delivery_timers(h) == [f"deliver:{email['_id']}:1"]
    slow.seconds = 0.0
    await h.advance(timedelta(seconds=30))
    assert len(h.sent("email")) == 1
    assert [e.data.channel for e in h.events("notification-delivered")] == ["in_app", "email"]  # type: ignore[attr-defined]


async def test_an_attempt_ended_without_an_outcome_is_made_by_timer_when_the_event_comes_again() -> None:
    h = harness()
    h = with_sender(h, "email", DyingSender())
    await h.register("client-1", email="client@example.org")
    event = samples.intake_completed()
    envelope = envelope_of(event)

    with pytest.raises(ConnectionResetError):
        await on_intake_completed(h.ctx)(event, envelope)
    (email,) = await h.stores.deliveries.find({"channel": "email"})
    assert (email["status"], email["attempts"]) == (DeliveryStatus.pending, 0)

    await on_intake_completed(h.ctx)(event, envelope)  # not committed: the event comes again
    assert delivery_timers(h) == [f"deliver:{email['_id']}:0"]
    await h.run_due_timers()

    assert len(h.sent("email")) == 1
    assert len([e for e in h.events("notification-delivered") if e.data.channel == "email"]) == 1  # type: ignore[attr-defined]


async def claimed_by(h: Harness, replica: str, *, gone: bool) -> tuple[Harness, Document]:
    """The client's intake-received e-mail claimed by `replica` (gone, or alive and maybe still in
    its first attempt), met again here by the event coming again: the harness here, and the claim."""
    here = replace(h, ctx=replace(h.ctx, replica="replica-here", replica_gone=_gone_if(replica, gone)))
    await here.register("client-1", email="client@example.org")
    event = samples.intake_completed()
    envelope = envelope_of(event)
    elsewhere = replace(
        here, ctx=replace(here.ctx, replica=replica, senders={**here.ctx.senders, "email": DyingSender()})
    )
    with pytest.raises(ConnectionResetError):  # its replica's attempt, never recorded
        await on_intake_completed(elsewhere.ctx)(event, envelope)
    (email,) = await here.stores.deliveries.find({"channel": "email"})
    assert (email["claimed_by"], email["attempts"]) == (replica, 0)
    await on_intake_completed(here.ctx)(event, envelope)  # not committed there: it comes again here
    return here, email


def _gone_if(replica: str, gone: bool) -> Callable[[str], Awaitable[bool]]:
    async def replica_gone(name: str) -> bool:
        return gone and name == replica

    return replica_gone


async def test_a_claim_of_a_live_replica_met_again_waits_out_its_first_attempt_then_goes_once() -> None:
    h, email = await claimed_by(harness(), "replica-alive", gone=False)

    assert delivery_timers(h) == [f"deliver:{email['_id']}:0"]
    limit = h.ctx.policy.first_attempt_limit
    await h.advance(limit - timedelta(seconds=1))
    assert h.sent("email") == [], "its claimer may still be sending it"
    await h.advance(timedelta(seconds=1))

    assert len(h.sent("email")) == 1
    await h.advance(limit)
    assert len(h.sent("email")) == 1


async def test_a_claim_of_a_replica_whose_heartbeat_ran_out_goes_at_once_when_met_again() -> None:
    h, email = await claimed_by(harness(), "replica-dead", gone=True)

    assert delivery_timers(h) == [f"deliver:{email['_id']}:0"]
    await h.run_due_timers()

    assert len(h.sent("email")) == 1
    assert [e.data.channel for e in h.events("notification-delivered")].count("email") == 1  # type: ignore[attr-defined]


async def test_a_claim_this_process_is_attempting_is_left_to_that_attempt_when_met_again() -> None:
    h = harness()
    slow = SlowSender(0.2)
    h = with_sender(h, "email", slow)
    h = replace(h, ctx=replace(h.ctx, replica="replica-here"))
    await h.register("client-1", email="client@example.org")
    event = samples.intake_completed()
    envelope = envelope_of(event)

    first = asyncio.create_task(on_intake_completed(h.ctx)(event, envelope))
    while not slow.started:
        await asyncio.sleep(0.01)
    await on_intake_completed(h.ctx)(event, envelope)  # the same event again, meanwhile
    assert delivery_timers(h) == [], (
        "no second attempt: this one records, or its failure brings the event back"
    )
    await first
    await h.advance(h.ctx.policy.first_attempt_limit)

    assert len(h.sent("email")) == 1


async def test_an_event_coming_again_after_its_at_once_attempts_sends_nothing_more() -> None:
    h = harness()
    await h.register("client-1", email="client@example.org", phone=PHONE)
    event = samples.intake_completed()
    envelope = envelope_of(event)

    await on_intake_completed(h.ctx)(event, envelope)
    await on_intake_completed(h.ctx)(event, envelope)
    await h.run_due_timers()

    assert (len(h.sent("email")), len(h.sent("sms"))) == (1, 1)
    assert len(h.events("notification-delivered")) == 3
    assert delivery_timers(h) == []


class CountedReads:
    """Counts `get`s of the recipients store."""

    def __init__(self, h: Harness) -> None:
        self.ids: list[str] = []
        store = h.stores.recipients
        original = store.get

        async def get(document_id: str) -> Document | None:
            self.ids.append(document_id)
            return await original(document_id)

        store.get = get  # type: ignore[method-assign]


async def test_each_recipient_is_read_once_for_a_message_to_several_recipients() -> None:
    h = harness()
    await h.register("client-1", email="client@example.org", phone=PHONE)
    await h.register("therapist-1", role="therapist", email="therapist@example.org")
    reads = CountedReads(h)
    event = samples.session_booked()

    await on_session_booked(h.ctx)(event, envelope_of(event))

    assert len(h.sent("email")) == 2
    assert sorted(reads.ids) == ["client-1", "therapist-1"]


async def test_a_risk_flag_reads_the_client_once_for_its_language_and_its_crisis_resources() -> None:
    h = harness()
    await h.register("client-1", email="client@example.org", phone=PHONE)
    reads = CountedReads(h)
    event = samples.risk_flagged()

    await on_risk_flagged(h.ctx)(event, envelope_of(event))

    assert {o.recipient_id for o in h.sent("sms")} >= {"client-1"}
    assert reads.ids.count("client-1") == 1


class CountedRecords:
    """The deliveries store's writes: the ids of each `update_many`, and of each `update` made alone."""

    def __init__(self, h: Harness) -> None:
        self.together: list[list[str]] = []
        self.alone: list[str] = []
        store = h.stores.deliveries
        update, update_many = store.update, store.update_many
        inside = False

        async def counted_update(
            document_id: str, change: Change, *, cause: Envelope | None = None
        ) -> Document | None:
            if not inside:
                self.alone.append(document_id)
            return await update(document_id, change, cause=cause)

        async def counted_update_many(
            changes: Sequence[tuple[str, Change]], *, cause: Envelope | None = None
        ) -> dict[str, Document | None]:
            nonlocal inside
            self.together.append([document_id for document_id, _ in changes])
            inside = True  # the fake applies them with `update`, one by one
            try:
                return await update_many(changes, cause=cause)
            finally:
                inside = False

        store.update = counted_update  # type: ignore[method-assign]
        store.update_many = counted_update_many  # type: ignore[method-assign]


async def test_a_failing_channel_is_recorded_with_the_delivered_ones_in_one_write_with_its_retry_timer() -> (
    None
):
    h = harness()
    h.senders["sms"].fail_with(transient("provider_503"))
    await h.register("client-1", email="client@example.org", phone=PHONE)
    records = CountedRecords(h)
    event = samples.intake_completed()

    await on_intake_completed(h.ctx)(event, envelope_of(event))

    deliveries = {d["channel"]: d for d in await h.stores.deliveries.find({"channel": {"$ne": None}})}
    assert records.alone == []
    assert [sorted(ids) for ids in records.together] == [sorted(d["_id"] for d in deliveries.values())]
    assert (deliveries["email"]["status"], deliveries["in_app"]["status"]) == (
        DeliveryStatus.delivered,
        DeliveryStatus.delivered,
    )
    sms = deliveries["sms"]
    assert (sms["status"], sms["last_error"], sms["attempts"]) == (DeliveryStatus.retrying, "provider_503", 1)
    assert delivery_timers(h) == [f"deliver:{sms['_id']}:1"]
    assert sorted(e.data.channel for e in h.events("notification-delivered")) == ["email", "in_app"]  # type: ignore[attr-defined]


async def test_a_log_write_that_fails_after_the_records_still_leaves_the_retry_its_timer() -> None:
    h = harness()
    h.senders["sms"].fail_with(transient("provider_503"))
    await h.register("client-1", email="client@example.org", phone=PHONE)
    first = samples.intake_completed()
    await on_intake_completed(h.ctx)(first, envelope_of(first))
    h.senders["sms"].fail_with(transient("provider_503"))
    store = h.stores.deliveries
    update_many = store.update_many

    async def records_then_log_fails(
        changes: Sequence[tuple[str, Change]], *, cause: Envelope | None = None
    ) -> dict[str, Document | None]:
        log = log_id("client-1", month_of(h.clock.now))
        await update_many([c for c in changes if c[0] != log], cause=cause)
        raise LockTimeout("deliveries/log/client-1")

    object.__setattr__(store, "update_many", records_then_log_fails)
    again = samples.match_accepted()

    with pytest.raises(LockTimeout):
        await on_match_accepted(h.ctx)(again, envelope_of(again))

    retrying = await store.find({"channel": "sms", "status": DeliveryStatus.retrying})
    assert len(retrying) == 2
    assert sorted(delivery_timers(h)) == sorted(f"deliver:{d['_id']}:1" for d in retrying)


async def test_an_attempt_that_raised_leaves_the_others_recorded_and_raises_after_them() -> None:
    h = harness()
    h = with_sender(h, "email", DyingSender())
    await h.register("client-1", email="client@example.org", phone=PHONE)
    records = CountedRecords(h)
    event = samples.intake_completed()

    with pytest.raises(ConnectionResetError):
        await on_intake_completed(h.ctx)(event, envelope_of(event))

    deliveries = {d["channel"]: d for d in await h.stores.deliveries.find({"channel": {"$ne": None}})}
    assert (deliveries["email"]["status"], deliveries["email"]["attempts"]) == (DeliveryStatus.pending, 0)
    assert (deliveries["sms"]["status"], deliveries["in_app"]["status"]) == (
        DeliveryStatus.delivered,
        DeliveryStatus.delivered,
    )
    assert [sorted(ids) for ids in records.together] == [
        sorted([deliveries["sms"]["_id"], deliveries["in_app"]["_id"]])
    ]
