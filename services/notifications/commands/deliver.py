"""Attempt one delivery and record what happened, in one write with the event that tells it.

An attempt is two steps: `send` makes it and returns its outcome (the delivery's next
state as a function of its current one), and recording stores that outcome with its event
and then sees to what follows. The delivery timer (`attempt_delivery`,
`deliver:{delivery_id}:{attempt}`, when quiet hours end, for a retry, or for a first
attempt a crash left undecided) reads the delivery and the recipient and records its one
outcome on its own (`update`). `notify` sends the deliveries it just claimed due now,
concurrently, with the delivery as inserted and the recipient document it was planned
from (neither is read again), and records all their outcomes together (`record_all`: one
`update_many`, so one bulk write and one removal of the sent events for the lot).
Composing and sending is bounded by the attempt timeout (`policy`); running out of it is
the transient failure `attempt_timeout`. The attempt number guards against doing one
attempt twice: a timer that fires again after a crash finds the attempt recorded and only
makes sure the next one is scheduled. Success publishes `notification-delivered`; a
transient failure schedules the next attempt with backoff; a permanent failure, or the last
attempt, publishes `notification-failed` with its reason. A failed page of an on-call
clinician asks for an escalation check (`commands/page_on_call.py`) through a timer, so
none is lost. `withdraw_delivery` gives up one not made yet whose message stopped being true.

An in-app send writes nothing: it returns its inbox entry, which the delivered outcome
carries into that same record (`channels/in_app.py`).

Providers are called at least once per attempt; the e-mail Message-ID and the webhook's
Idempotency-Key are derived from the delivery, so a repeat after a crash (or after a
timeout that cut off a send the provider did take) is recognisable.

Each attempt's send is a span (`send email`, `send sms`, ...) inside the span of the event
that asked for the message (or of the delivery timer's firing, which continues that
trace): the e-mail shows in the journey's trace. Its attributes are ids and codes only.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter

from services.notifications import timers
from services.notifications.channels import Attachment, DeliveryFailure, Outbound, permanent, transient
from services.notifications.context import NotificationsContext
from services.notifications.domain.calendar import session_calendar
from services.notifications.domain.channels import EXTERNAL_CHANNELS, address_for
from services.notifications.domain.delivery import (
    DeliveryStatus,
    attempt_failed,
    delivered,
    expired,
    is_final,
)
from services.notifications.domain.messages import CALENDAR_KINDS, Audience, MessageKind, stored_context
from services.notifications.rendering import Rendered
from services.notifications.store.recipients import contacts_of, locale_of, zone_of
from shared.events.common import ID_PATTERN
from shared.events.envelope import Envelope, OutgoingEvent, new_event
from shared.events.models import NotificationDelivered, NotificationFailed
from shared.observability.logs import get_logger
from shared.observability.tracing import failed, span
from shared.storage import Document
from shared.storage.documents import Change, Revision

log = get_logger(__name__)

ATTEMPTS = Counter(
    "carepath_notification_attempts_total",
    "Delivery attempts by channel and outcome (delivered, transient, permanent).",
    ["channel", "outcome"],
)
_ID = re.compile(ID_PATTERN)
ATTEMPT_TIMEOUT = "attempt_timeout"
"""The reason code of an attempt cut off by `NotificationsSettings.delivery_attempt_timeout_seconds`."""

Outcome = Callable[[Document], Document]
"""What an attempt made of a delivery: its next state, from its current one (as the record finds it)."""


def notification_id(delivery_id: str) -> str:
    """The delivery's id where it fits an event `Id`, else a digest of it."""
    if _ID.match(delivery_id):
        return delivery_id
    return f"n-{hashlib.sha256(delivery_id.encode()).hexdigest()[:40]}"


def delivery_timer_id(delivery: Mapping[str, Any]) -> str:
    return f"deliver:{delivery['_id']}:{delivery['attempts']}"


async def schedule_attempt(
    ctx: NotificationsContext, delivery: Mapping[str, Any], *, not_before: datetime | None = None
) -> None:
    """Make sure the delivery's next attempt has its timer (idempotent by id), due when the
    attempt is, or at `not_before` if later."""
    if is_final(delivery) or delivery.get("next_attempt_at") is None:
        return
    due = delivery["next_attempt_at"] if not_before is None else max(delivery["next_attempt_at"], not_before)
    await ctx.timers.schedule(
        delivery_timer_id(delivery),
        timers.DELIVERY,
        due,
        {"delivery_id": delivery["_id"], "attempt": delivery["attempts"]},
    )


@dataclass(frozen=True, slots=True)
class AttemptDelivery:
    """Attempt `delivery_id` once, if its attempt number `attempt` is still to do."""

    delivery_id: str
    attempt: int


async def attempt_delivery(command: AttemptDelivery, ctx: NotificationsContext) -> Document | None:
    """Attempt the delivery and record the outcome; return its new state (the timer's way)."""
    delivery_id = command.delivery_id
    delivery = await ctx.stores.deliveries.get(delivery_id)
    if delivery is None:
        log.warning("delivery to attempt does not exist", delivery_id=delivery_id)
        return None
    if is_final(delivery) or delivery["attempts"] != command.attempt:
        await _follow_up(ctx, delivery)  # done before: only make sure what follows happens
        return delivery
    now = ctx.clock()
    # The address they have now; an expired delivery is not sent, so it needs none.
    recipient = None if _expired(delivery, now) else await ctx.stores.recipients.get(delivery["recipient_id"])
    return await _record(ctx, delivery, await send(ctx, delivery, recipient, now), now)


async def send(
    ctx: NotificationsContext, delivery: Document, recipient: Mapping[str, Any] | None, now: datetime
) -> Outcome:
    """Attempt the delivery once, for the address `recipient` holds; return the outcome to record.

    What the send returns (the in-app inbox's entry) is part of the delivered outcome: the
    record that stores the outcome stores it, no write of its own. One past its expiry is
    not sent: it ends `expired`. A delivery failure (or running out of the attempt timeout)
    is an outcome; anything else raised (the database, say) leaves the attempt without one
    and goes to the caller.
    """
    if _expired(delivery, now):
        return lambda d: expired(d, now)
    delivery_id = delivery["_id"]
    failure: DeliveryFailure | None = None
    kept: Document | None = None
    with span(f"send {delivery['channel']}", _described(delivery)) as sending:
        try:
            async with asyncio.timeout(ctx.policy.attempt_timeout_seconds):
                outbound = _compose(ctx, delivery, recipient, now)
                kept = await ctx.senders[delivery["channel"]].send(outbound)
        except DeliveryFailure as error:
            failure = error
        except TimeoutError:  # a provider too slow: maybe sent, so the retry keeps its message id
            failure = transient(ATTEMPT_TIMEOUT)
        if failure is not None:
            failed(sending, failure.reason)
    if failure is None:
        ATTEMPTS.labels(delivery["channel"], "delivered").inc()
        log.info("delivered", delivery_id=delivery_id, channel=delivery["channel"], kind=delivery["kind"])
        return lambda d: delivered(d, now, kept)  # an in-app entry goes in with the record
    ATTEMPTS.labels(delivery["channel"], "transient" if failure.transient else "permanent").inc()
    log.warning(
        "delivery attempt failed",
        delivery_id=delivery_id,
        channel=delivery["channel"],
        reason=failure.reason,
        transient=failure.transient,
        attempt=delivery["attempts"] + 1,
    )
    policy = ctx.policy.critical_retry if delivery["critical"] else ctx.policy.retry
    reason, is_transient = failure.reason, failure.transient
    return lambda d: attempt_failed(d, now, reason, transient=is_transient, policy=policy)


def _expired(delivery: Mapping[str, Any], now: datetime) -> bool:
    return delivery.get("expires_at") is not None and now >= delivery["expires_at"]


def _described(delivery: Mapping[str, Any]) -> dict[str, str | int]:
    """A send's span attributes: ids and codes, never the address or the message."""
    return {
        "carepath.delivery_id": delivery["_id"],
        "carepath.recipient_id": delivery["recipient_id"],
        "carepath.channel": delivery["channel"],
        "carepath.notification_kind": delivery["kind"],
        "carepath.attempt": delivery["attempts"] + 1,
    }


@dataclass(frozen=True, slots=True)
class WithdrawDelivery:
    """Give up `delivery_id`, not made yet, because what it says stopped being true (`reason`)."""

    delivery_id: str
    reason: str


async def withdraw_delivery(command: WithdrawDelivery, ctx: NotificationsContext) -> None:
    """One held through quiet hours or waiting for a retry ends `expired` with the reason (and
    its `notification-failed`); one delivered or ended already stays as it is."""
    delivery = await ctx.stores.deliveries.get(command.delivery_id)
    if delivery is None or is_final(delivery):
        return
    now = ctx.clock()
    reason = command.reason
    recorded = await _record(ctx, delivery, lambda d: expired(d, now, reason), now)
    if recorded is not None and recorded.get("reason") == reason:
        await ctx.timers.cancel(delivery_timer_id(recorded))  # its attempt would find it ended
        log.info("delivery withdrawn", delivery_id=command.delivery_id, reason=reason)


async def _record(
    ctx: NotificationsContext, delivery: Document, outcome: Outcome, now: datetime
) -> Document | None:
    """Store the attempt's outcome and its event in one write, unless it was recorded already."""
    recorded = await ctx.stores.deliveries.update(delivery["_id"], _change(ctx, delivery, outcome, now))
    if recorded is not None:
        await _follow_up(ctx, recorded)
    return recorded


async def record_all(
    ctx: NotificationsContext,
    outcomes: Sequence[tuple[Document, Outcome]],
    now: datetime,
    *,
    also: Sequence[tuple[str, Change]] = (),
) -> dict[str, Document | None]:
    """`_record` of several deliveries' outcomes together: each still its own write with its
    event, all of them in one `update_many`; then what follows each, concurrently. Returns
    each delivery's new state by id.

    `also`: changes of other documents of `deliveries` (the recipients' logs, `notify`'s),
    written in that same bulk write instead of one of their own. Should any of the writes fail
    (a log other replicas keep changing first, say), what follows the records that were
    stored is still seen to before the failure goes to the caller."""
    if not outcomes and not also:
        return {}
    changes = [(delivery["_id"], _change(ctx, delivery, outcome, now)) for delivery, outcome in outcomes]
    try:
        written = await ctx.stores.deliveries.update_many([*changes, *also])
    except Exception:
        await _follow_up_stored(ctx, [delivery_id for delivery_id, _ in changes])
        raise
    recorded = {delivery_id: written[delivery_id] for delivery_id, _ in changes}
    following = await asyncio.gather(
        *(_follow_up(ctx, r) for r in recorded.values() if r is not None), return_exceptions=True
    )
    for failure in following:
        if isinstance(failure, BaseException):
            raise failure  # after all of them ran: the caller's event or timer comes again
    return recorded


async def _follow_up_stored(ctx: NotificationsContext, delivery_ids: Sequence[str]) -> None:
    """`_follow_up` of the deliveries as stored after a failed `record_all` (read back), at best:
    the caller's event or timer comes again either way, and what follows is idempotent."""
    try:
        stored = await asyncio.gather(*(ctx.stores.deliveries.get(i) for i in delivery_ids))
        await asyncio.gather(*(_follow_up(ctx, d) for d in stored if d is not None))
    except Exception:
        log.warning("what follows the stored records could not be seen to", exc_info=True)


def _change(ctx: NotificationsContext, delivery: Document, outcome: Outcome, now: datetime) -> Change:
    """The outcome as a change of the delivery with its event: none if the attempt was recorded
    already (the delivery ended, or counts another attempt)."""
    source = ctx.policy.source

    def change(current: Document) -> Revision | None:
        if is_final(current) or current["attempts"] != delivery["attempts"]:
            return None
        updated = outcome(current)
        return Revision(updated, _events_of(updated, source, now))

    return change


async def _follow_up(ctx: NotificationsContext, delivery: Document) -> None:
    """The next attempt's timer, and an escalation check when a page failed."""
    await schedule_attempt(ctx, delivery)
    failed_page = (
        delivery.get("page")
        and delivery["channel"] in EXTERNAL_CHANNELS
        and delivery.get("failures", 0) > 0
        and delivery["status"] != DeliveryStatus.delivered
    )
    if failed_page:
        await ctx.timers.schedule(
            f"escalate:{delivery['_id']}:{delivery['attempts']}",
            timers.ESCALATION,
            ctx.clock(),
            {"alert_id": delivery["page"], "recipient_id": delivery["recipient_id"]},
        )


def _events_of(delivery: Document, source: str, now: datetime) -> list[OutgoingEvent]:
    status = delivery["status"]
    if status not in (DeliveryStatus.delivered, DeliveryStatus.failed, DeliveryStatus.expired):
        return []
    common = {
        "notification_id": notification_id(delivery["_id"]),
        "recipient_id": delivery["recipient_id"],
        "channel": delivery["channel"],
        "kind": delivery["kind"],
        "cause_event_id": delivery["event_id"],
    }
    data: NotificationDelivered | NotificationFailed
    if status == DeliveryStatus.delivered:
        data = NotificationDelivered(**common, delivered_at=now)
    else:
        data = NotificationFailed(**common, reason=delivery["reason"], failed_at=now)
    cause = Envelope(
        id=delivery["event_id"],
        source=source,
        type=delivery["event_type"],
        time=now,
        subject=delivery["recipient_id"],
        correlation_id=delivery["correlation_id"],
    )
    discriminator = f"{delivery['recipient_id']}:{delivery['channel']}"
    return [new_event(data, source=source, cause=cause, discriminator=discriminator, now=now)]


def _compose(
    ctx: NotificationsContext, delivery: Document, recipient: Mapping[str, Any] | None, now: datetime
) -> Outbound:
    """The message in the recipient's language and zone, for the address `recipient` holds."""
    channel = delivery["channel"]
    address = address_for(contacts_of(recipient, delivery["recipient_id"]), channel)
    if not address:
        raise permanent("no_address")
    kind = MessageKind(delivery["kind"])
    context = stored_context(kind, delivery["context"])
    try:
        message = ctx.renderer.render(
            kind,
            Audience(delivery["audience"]),
            context=context,
            locale=context.get("language") or locale_of(recipient),  # crisis lines fix their language
            zone=zone_of(recipient, context.get("timezone")),
            channel=channel,
        )
    except Exception:
        log.exception("message could not be rendered", delivery_id=delivery["_id"], kind=delivery["kind"])
        raise permanent("render_failed") from None
    return Outbound(
        delivery_id=delivery["_id"],
        notification_id=notification_id(delivery["_id"]),
        recipient_id=delivery["recipient_id"],
        channel=channel,
        address=address,
        kind=delivery["kind"],
        critical=bool(delivery["critical"]),
        message=message,
        attachments=_attachments(ctx, delivery, message, now),
    )


def _attachments(
    ctx: NotificationsContext, delivery: Document, message: Rendered, now: datetime
) -> tuple[Attachment, ...]:
    context = delivery["context"]
    if delivery["channel"] != "email" or MessageKind(delivery["kind"]) not in CALENDAR_KINDS:
        return ()
    cancelled = delivery["kind"] == MessageKind.session_cancelled
    data = session_calendar(
        context,
        summary=message.calendar_summary or message.subject,
        description=message.body,
        organizer=ctx.policy.email_from,
        now=now,
        cancelled=cancelled,
    )
    method = "CANCEL" if cancelled else "PUBLISH"
    return (Attachment("session.ics", f"text/calendar; method={method}", data),)
