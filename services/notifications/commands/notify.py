"""Turn notices into deliveries: one per (event, recipient, channel), claimed by a unique insert.

For each notice the recipient's channels, opt-outs and quiet hours decide on which
channels and from when the message goes (a critical one: every channel, at once). All the
command's deliveries are inserted under their keys in one round trip; whoever inserts one
owns its first attempt. One due now is sent right here, critical or not, all of them
concurrently, each bounded by the attempt timeout, composed from the recipient document
read for the notice (each recipient is read once per command, all of them concurrently); then
all their outcomes are recorded together (`record_all`), each with its event, and each one's
follow-up (a retry's timer, an escalation check) made sure of. Only retries and deliveries held by quiet hours
wait for timers. A delivery that exists already (the event came again) only gets its timer
made sure of.

No timer guards a first attempt: the caller is. `notify` returns only once every at-once
attempt has its outcome recorded (a transient failure's retry then has its timer), and it
runs inside an at-least-once unit: a consumed event, whose offset and inbox record come
after the handler returns, or a firing timer, moved to done after its handler returns. A
crash between the claim and the record (a send may have gone) brings that event or timer
back; the claim then finds the delivery undecided and gives it its timer (`deliver:{id}:0`),
which attempts it with the same Message-ID and Idempotency-Key. An attempt that raised (not a
delivery failure: the database, say) has no outcome: the others' are recorded, then it
re-raises here, so the event comes again the same way.

No lease keeps that timer from racing a first attempt still running, so a claim names its
replica (`claimed_by`), and a claim met again is timed by who could still be attempting it
(`_make_sure_attempted`): nobody (its claimer is this replica and no attempt of it runs here,
or its claimer's heartbeat ran out): at once; this process (`ctx.attempting`): no timer, that
attempt records or brings the event back; a live replica: when its attempt must be over
(`first_attempt_limit` after the claim, the attempt timeout and a lease's length, which is as
long as that replica's lease excluded others before).

A risk message's deliveries go on the watch list of undelivered risk alerts before their
first attempt (`store/alerts.py`), so the metrics see them until they reach someone.

Each recipient's delivery log (`store/indexes.py`) lists their deliveries of the command, and
is their in-app inbox too: its in-app ones are listed there unread (held, when quiet hours
hold them), and an in-app send writes nothing: its entry goes into its delivery with the
recorded outcome (`channels/in_app.py`). The log is a document of `deliveries` and one of the
command's claims: a recipient's first one is written by the claims' insert, and one that
existed is changed by the bulk write of the records (`record_all`'s `also`).

Round trips of a command whose deliveries all go at once: per recipient new to it, its read
(all concurrently); for all the deliveries together, whichever notices and recipients they
are of, the claims with the new logs (one insert), and their records with the changes of the
logs that existed (one bulk write of all of them, in-app entries included). The store is
revision-checked: it keeps what it inserted and what it last wrote, so a record reads
nothing, nor does the change of a log this replica wrote last (one read when another replica
did). Before, the claims' and logs' leases cost one insert and one release per command, a
log that existed one read, and the records' sent events one more write. Before that (issue
18) each notice's log cost its own lease, read, write and release, each in-app send as many
again for its inbox index (`inboxes`) and then an insert of its entry (`inbox_entries`), and
each delivery's record two round trips of its own (its write and its removal of its sent
event); earlier every delivery but a critical one also cost a timer's schedule and firing and
a second read of its recipient and of itself. Until the log moved into `deliveries` (from
`delivery_logs`) each command also read every recipient's log and wrote the new ones and the
changed ones apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel

from services.notifications.commands.deliver import Outcome, record_all, schedule_attempt, send
from services.notifications.context import NotificationsContext
from services.notifications.domain.audience import Notice
from services.notifications.domain.channels import available_channels
from services.notifications.domain.delivery import (
    CLAIMED_BY,
    Origin,
    in_first_attempt,
    is_due_now,
    new_delivery,
)
from services.notifications.domain.preferences import deliverable_channels, release_at
from services.notifications.domain.risk_alerts import is_watched
from services.notifications.store.alerts import UNDELIVERED, watched
from services.notifications.store.indexes import log_id, logged, month_of, new_log
from services.notifications.store.recipients import contacts_of, preferences_of, zone_of
from shared.events.envelope import Envelope
from shared.events.registry import spec_for
from shared.observability.logs import get_logger
from shared.observability.tracing import note_correlation
from shared.storage import Document
from shared.storage.documents import Change

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Notify:
    """Tell each notice's recipient what `origin` says; `cause` is the consumed event, if any."""

    notices: tuple[Notice, ...]
    origin: Origin
    cause: Envelope | None = None
    recipients: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Recipient documents the caller read a moment ago, by id (`{}`: never registered): not read again."""

    @classmethod
    def answering(
        cls,
        notices: Sequence[Notice],
        event: BaseModel,
        envelope: Envelope,
        *,
        recipients: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Notify:
        """Notify for a consumed event: its id keys the deliveries, its envelope is their cause."""
        origin = Origin(
            event_id=envelope.id,
            event_type=spec_for(type(event)).name,
            correlation_id=envelope.correlation_id,
        )
        return cls(tuple(notices), origin, cause=envelope, recipients=dict(recipients or {}))


@dataclass(frozen=True, slots=True)
class _Planned:
    """One notice's deliveries, before the claim, and the recipient document they were planned from."""

    notice: Notice
    recipient: Mapping[str, Any]
    deliveries: tuple[Document, ...]


async def notify(command: Notify, ctx: NotificationsContext) -> list[Document]:
    """Claim every notice's deliveries; attempt those due now, give the others their timer."""
    if command.cause is not None:
        note_correlation(command.cause.correlation_id)
    read = await _recipients(ctx, command.notices, command.recipients)
    planned: list[_Planned] = []
    for notice in command.notices:
        plan = _plan(ctx, notice, command.origin, read)
        taken = {d["_id"] for p in planned for d in p.deliveries}  # one key, one delivery: the first
        planned.append(replace(plan, deliveries=tuple(d for d in plan.deliveries if d["_id"] not in taken)))
    listed = _listed(planned)
    deliveries = [d for plan in planned for d in plan.deliveries]
    # The claims with the recipients' logs (a new one is written right here), in one insert:
    # the store keeps what it inserted, so each first record then costs no read.
    logs = [new_log(recipient_id, month, listing) for (recipient_id, month), listing in listed.items()]
    existed = await ctx.stores.deliveries.insert_many([*deliveries, *logs])
    # Claimed here: the event meeting them again meanwhile leaves them to this call (no await
    # between the claims' insert and this line, so no copy of the event can look first).
    ours = [d["_id"] for d in deliveries if d["_id"] not in existed]
    ctx.attempting.update(ours)
    try:
        claimed, sent = await _claimed_and_sent(ctx, planned, deliveries, listed, existed)
    finally:
        ctx.attempting.difference_update(ours)
    for outcome in sent:
        if isinstance(outcome, BaseException):
            raise outcome  # the event comes again; the deliveries left undecided then go by timer
    return [delivery for delivery, _ in claimed.values()]


async def _claimed_and_sent(
    ctx: NotificationsContext,
    planned: Sequence[_Planned],
    deliveries: Sequence[Document],
    listed: Mapping[tuple[str, str], Sequence[Document]],
    existed: set[str],
) -> tuple[dict[str, tuple[Document, bool]], list[Outcome | BaseException]]:
    """The claims as stored (`deliveries`, those of every plan), and what their at-once attempts
    made of them (recorded, all together, with the changes of the logs that existed); the others
    get their timers."""
    claimed = await _claimed(ctx, deliveries, existed)
    relisted = _relisted(listed, claimed, existed)
    if watch := [d["_id"] for d, _ in claimed.values() if is_watched(d)]:
        await ctx.stores.alerts.upsert(UNDELIVERED, watched(watch))
    now = ctx.clock()
    at_once: list[tuple[Document, Mapping[str, Any]]] = []
    for plan in planned:
        for delivery, inserted in (claimed[d["_id"]] for d in plan.deliveries):
            if inserted and is_due_now(delivery, now):
                at_once.append((delivery, plan.recipient))
            else:
                await _make_sure_attempted(ctx, delivery)  # held, or claimed before: its timer
    sent = await asyncio.gather(
        *(send(ctx, delivery, recipient, now) for delivery, recipient in at_once),
        return_exceptions=True,
    )
    outcomes: list[tuple[Document, Outcome]] = [
        (delivery, outcome)
        for (delivery, _), outcome in zip(at_once, sent, strict=True)
        if not isinstance(outcome, BaseException)
    ]
    # Nothing read again: the logs that existed changed with them.
    await record_all(ctx, outcomes, now, also=relisted)
    return claimed, list(sent)


async def _make_sure_attempted(ctx: NotificationsContext, delivery: Document) -> None:
    """The timer of a delivery held by quiet hours, retrying, or claimed before (the event came
    again). One claimed before whose first attempt may still run is left to that attempt: in
    this process, until it ends (if it fails without an outcome, the event comes again); in a
    live replica, until `first_attempt_limit` after the claim. One whose claimer is this
    replica (that attempt ended) or a replica whose heartbeat ran out goes at once."""
    not_before = None
    if in_first_attempt(delivery):
        if delivery["_id"] in ctx.attempting:
            return
        claimer = delivery.get(CLAIMED_BY)
        if claimer and claimer != ctx.replica and not await ctx.replica_gone(claimer):
            not_before = delivery["created_at"] + ctx.policy.first_attempt_limit
    await schedule_attempt(ctx, delivery, not_before=not_before)


async def _recipients(
    ctx: NotificationsContext, notices: Sequence[Notice], known: Mapping[str, Mapping[str, Any]]
) -> dict[str, Mapping[str, Any]]:
    """The recipient document of each notice (`{}` for one never registered): those the caller
    did not hand in read concurrently (client and therapist of one session at once, not one
    after the other), each once however many notices name it."""
    wanted = [r for r in dict.fromkeys(n.recipient_id for n in notices) if r not in known]
    found = await asyncio.gather(*(ctx.stores.recipients.get(r) for r in wanted))
    return {**known, **{r: document or {} for r, document in zip(wanted, found, strict=True)}}


def _plan(
    ctx: NotificationsContext, notice: Notice, origin: Origin, read: Mapping[str, Mapping[str, Any]]
) -> _Planned:
    """The notice's deliveries by the recipient's channels, opt-outs and quiet hours, planned
    from the recipient document read for the command (`read`)."""
    recipient = read[notice.recipient_id]
    preferences = preferences_of(recipient)
    channels = deliverable_channels(
        available_channels(contacts_of(recipient, notice.recipient_id)),
        preferences,
        notice.kind,
        critical=notice.critical,
    )
    now = ctx.clock()
    not_before = (
        now
        if notice.critical
        else release_at(now, preferences.quiet_hours, zone_of(recipient, notice.context.get("timezone")))
    )
    if notice.expires_at is not None and not_before >= notice.expires_at:
        log.info(
            "message would go after it stops mattering; not sent",
            recipient_id=notice.recipient_id,
            kind=notice.kind.value,
            event_id=origin.event_id,
        )
        return _Planned(notice, recipient, ())
    if channels and not_before > now:
        log.info(
            "held for quiet hours",
            recipient_id=notice.recipient_id,
            kind=notice.kind.value,
            until=not_before.isoformat(),
        )
    deliveries = tuple(
        {**new_delivery(notice, c, origin, now=now, not_before=not_before), CLAIMED_BY: ctx.replica}
        for c in channels
    )
    return _Planned(notice, recipient, deliveries)


def _listed(planned: Sequence[_Planned]) -> dict[tuple[str, str], list[Document]]:
    """Each recipient's deliveries of the command by the month of their log, for that log (two
    notices of one recipient: one listing), as planned: held ones are listed held."""
    by_log: dict[tuple[str, str], list[Document]] = {}
    for plan in planned:
        for delivery in plan.deliveries:
            key = (plan.notice.recipient_id, month_of(delivery["created_at"]))
            by_log.setdefault(key, []).append(delivery)
    return by_log


def _relisted(
    listed: Mapping[tuple[str, str], Sequence[Document]],
    claimed: Mapping[str, tuple[Document, bool]],
    existed: set[str],
) -> list[tuple[str, Change]]:
    """The change of each log that existed already (the claim wrote the others), listing the
    recipient's deliveries as claimed."""
    return [
        (log_id(recipient_id, month), logged([claimed[d["_id"]][0] for d in listing]))
        for (recipient_id, month), listing in listed.items()
        if log_id(recipient_id, month) in existed
    ]


async def _claimed(
    ctx: NotificationsContext, deliveries: Sequence[Document], existed: set[str]
) -> dict[str, tuple[Document, bool]]:
    """Each claimed id to the delivery as stored and whether this call inserted it (one that
    existed is read: the event came again)."""
    claimed: dict[str, tuple[Document, bool]] = {}
    for delivery in deliveries:
        if delivery["_id"] in existed:
            claimed[delivery["_id"]] = (await ctx.stores.deliveries.get(delivery["_id"]) or delivery, False)
        else:
            claimed[delivery["_id"]] = (delivery, True)
    return claimed
