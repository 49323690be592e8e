"""Notifications handlers and commands on the in-memory fakes, with recording senders and a manual clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from services.notifications import timers
from services.notifications.channels import DeliveryFailure, Outbound, Sender
from services.notifications.channels.in_app import InAppSender
from services.notifications.context import DeliveryPolicy, NotificationsContext
from services.notifications.domain.channels import Channel
from services.notifications.domain.delivery import RetryPolicy
from services.notifications.domain.preferences import Preferences
from services.notifications.handlers.on_check_in_reminder_timer import on_check_in_reminder_timer
from services.notifications.handlers.on_delivery_timer import on_delivery_timer
from services.notifications.handlers.on_escalation_timer import on_escalation_timer
from services.notifications.handlers.on_session_reminder_timer import on_session_reminder_timer
from services.notifications.rendering import Renderer
from services.notifications.store import NotificationStores
from services.notifications.store.recipients import put_preferences
from shared.events.envelope import Envelope, OutgoingEvent, new_event
from shared.storage.documents import Revision
from shared.storage.timers import Timer, TimerStatus
from tests.support.fakes import InMemoryDocuments, InMemoryTimers, ManualClock
from tests.unit.notifications import samples

CHECK_IN_REMINDER_AFTER = timedelta(hours=72)


class RecordingSender:
    """Keeps what it sent; `fail_with` queues failures for the next sends."""

    def __init__(self) -> None:
        self.sent: list[Outbound] = []
        self.failures: list[DeliveryFailure] = []

    def fail_with(self, *failures: DeliveryFailure) -> None:
        self.failures.extend(failures)

    async def send(self, outbound: Outbound) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(outbound)


@dataclass
class Harness:
    ctx: NotificationsContext
    stores: NotificationStores
    timers: InMemoryTimers
    clock: ManualClock
    senders: dict[str, RecordingSender]
    fired: list[str] = field(default_factory=list)

    def sent(self, channel: Channel, recipient_id: str | None = None) -> list[Outbound]:
        outbounds = self.senders[channel].sent if channel != "in_app" else []
        return [o for o in outbounds if recipient_id is None or o.recipient_id == recipient_id]

    def events(self, name: str) -> list[OutgoingEvent]:
        deliveries = self.stores.deliveries
        assert isinstance(deliveries, InMemoryDocuments)
        return [e for e in deliveries.events if e.topic == name]

    async def run_due_timers(self) -> int:
        """Fire every pending timer due by the clock, as the timer worker would, until none is due."""
        handlers = {
            timers.DELIVERY: on_delivery_timer(self.ctx),
            timers.SESSION_REMINDER: on_session_reminder_timer(self.ctx),
            timers.ESCALATION: on_escalation_timer(self.ctx),
            timers.CHECK_IN_REMINDER: on_check_in_reminder_timer(self.ctx),
        }
        count = 0
        while due := sorted(
            ((t.due_at, i) for i, t in self.timers.pending().items() if t.due_at <= self.clock()),
        ):
            for _, timer_id in due:
                fake = self.timers.timers[timer_id]
                if fake.status is not TimerStatus.pending:
                    continue
                timer = Timer(
                    id=timer_id, kind=fake.kind, due_at=fake.due_at, attempts=1, payload=fake.payload
                )
                await handlers[fake.kind](timer)
                fake.status = TimerStatus.fired
                self.fired.append(timer_id)
                count += 1
        return count

    async def advance(self, by: timedelta) -> int:
        self.clock.advance(by)
        return await self.run_due_timers()

    async def register(self, recipient_id: str, **details: Any) -> None:
        document = {"role": "client", "timezone": "America/New_York", "locale": "en", **details}
        await self.stores.recipients.upsert(
            recipient_id, lambda current: Revision({**(current or {}), **document})
        )

    async def prefer(self, recipient_id: str, **preferences: Any) -> None:
        await self.stores.recipients.upsert(
            recipient_id, put_preferences(Preferences.model_validate(preferences), self.clock())
        )


def harness(*, rota: tuple[str, ...] = ("oncall-1", "oncall-2"), max_attempts: int = 4) -> Harness:
    clock = ManualClock(samples.NOW)
    stores = NotificationStores(
        recipients=InMemoryDocuments("recipients"),
        deliveries=InMemoryDocuments("deliveries"),
        delivery_logs=InMemoryDocuments("delivery_logs"),
        inboxes=InMemoryDocuments("inboxes"),
        inbox_entries=InMemoryDocuments("inbox_entries"),
        sessions=InMemoryDocuments("sessions"),
        alerts=InMemoryDocuments("alerts"),
        check_ins=InMemoryDocuments("check_ins"),
    )
    pending = InMemoryTimers()
    senders = {"email": RecordingSender(), "sms": RecordingSender(), "push": RecordingSender()}
    channel_senders: dict[Channel, Sender] = {**senders, "in_app": InAppSender()}  # type: ignore[dict-item]
    ctx = NotificationsContext(
        stores=stores,
        timers=pending,
        clock=clock,
        senders=channel_senders,
        renderer=Renderer(app_url="https://app.carepath.example"),
        policy=DeliveryPolicy(
            source="/carepath/notifications",
            retry=RetryPolicy(max_attempts, timedelta(seconds=30), timedelta(minutes=10)),
            critical_retry=RetryPolicy(max_attempts, timedelta(seconds=2), timedelta(minutes=1)),
            on_call_rota=rota,
            email_from="no-reply@carepath.test",
            check_in_reminder_after=CHECK_IN_REMINDER_AFTER,
        ),
    )
    return Harness(ctx, stores, pending, clock, senders)


def envelope_of(data: Any) -> Envelope:
    return new_event(data, source="tests", now=samples.NOW).envelope
