"""One message on one channel to one recipient: its life from claim to delivered or failed.

A delivery is keyed `"{event_id}:{recipient_id}:{channel}"`, so however often an event
arrives it yields one delivery per recipient and channel: the unique insert of that key
claims the send. It is attempted when due (at once by whoever claimed it, or by its timer
when quiet hours end); a transient
failure is retried with exponential backoff up to a bound, a permanent one (or the bound)
fails it with a reason code. These are pure functions of the stored document.

A delivered in-app delivery keeps its inbox entry (`INBOX_ENTRY`: title, body, locale; the
channel's send made it), written by the record of its outcome: the inbox reads it by the
delivery's `_id` (`store/inbox.py`), and erasure scrubs it (`store/client_data.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from services.notifications.domain.audience import Notice
from services.notifications.domain.channels import EXTERNAL_CHANNELS, Channel
from shared.storage import Document


class DeliveryStatus(StrEnum):
    held = "held"  # waits for the recipient's quiet hours to end
    pending = "pending"  # due now, not attempted yet
    retrying = "retrying"  # failed transiently; next attempt at `next_attempt_at`
    delivered = "delivered"
    failed = "failed"  # permanently, or out of attempts: `reason` says why
    expired = "expired"  # stopped mattering before it went (a reminder after its session or answer)


INBOX_ENTRY = "inbox_entry"
"""The field of a delivered in-app delivery holding what its inbox entry shows."""

CLAIMED_BY = "claimed_by"
"""The replica that claimed a delivery (its instance name), which makes its first attempt."""

FINAL: frozenset[str] = frozenset({DeliveryStatus.delivered, DeliveryStatus.failed, DeliveryStatus.expired})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff for transient failures: `initial`, doubled each time, capped, bounded."""

    max_attempts: int
    initial: timedelta
    maximum: timedelta

    def delay(self, failed_attempts: int) -> timedelta:
        return min(self.maximum, self.initial * (1 << min(30, max(0, failed_attempts - 1))))


def delivery_id(event_id: str, recipient_id: str, channel: str) -> str:
    return f"{event_id}:{recipient_id}:{channel}"


@dataclass(frozen=True, slots=True)
class Origin:
    """What a message answers: an event (or a reminder's firing), its type and journey."""

    event_id: str
    event_type: str
    correlation_id: str


def new_delivery(
    notice: Notice, channel: Channel, origin: Origin, *, now: datetime, not_before: datetime
) -> Document:
    """A claimed delivery, due at `not_before` (later than now when held by quiet hours)."""
    held = not_before > now
    return {
        "_id": delivery_id(origin.event_id, notice.recipient_id, channel),
        "event_id": origin.event_id,
        "event_type": origin.event_type,
        "correlation_id": origin.correlation_id,
        "recipient_id": notice.recipient_id,
        "audience": notice.audience.value,
        "kind": notice.kind.value,
        "channel": channel,
        "critical": notice.critical,
        "context": dict(notice.context),
        "page": notice.page,
        "status": DeliveryStatus.held if held else DeliveryStatus.pending,
        "attempts": 0,
        "created_at": now,
        "not_before": not_before,
        "next_attempt_at": not_before,
        "expires_at": notice.expires_at,
        "delivered_at": None,
        "failed_at": None,
        "reason": None,
    }


def is_final(delivery: Mapping[str, Any]) -> bool:
    return delivery["status"] in FINAL


def in_first_attempt(delivery: Mapping[str, Any]) -> bool:
    """Whether its claimer may still be making its first attempt, at once (none recorded yet)."""
    return bool(delivery["status"] == DeliveryStatus.pending and delivery["attempts"] == 0)


def is_due_now(delivery: Mapping[str, Any], now: datetime) -> bool:
    """Whether its first attempt is due (not held by quiet hours): `notify` makes that one at once."""
    due: datetime | None = delivery["next_attempt_at"]
    return delivery["status"] == DeliveryStatus.pending and due is not None and due <= now


def delivered(delivery: Document, now: datetime, kept: Mapping[str, Any] | None = None) -> Document:
    """Delivered at `now`; `kept` is what the channel's send left for the delivery to keep
    (the in-app inbox's entry)."""
    done = {
        **delivery,
        "status": DeliveryStatus.delivered,
        "attempts": delivery["attempts"] + 1,
        "delivered_at": now,
        "next_attempt_at": None,
    }
    if kept is not None:
        done[INBOX_ENTRY] = dict(kept)
    return done


def attempt_failed(
    delivery: Document, now: datetime, reason: str, *, transient: bool, policy: RetryPolicy
) -> Document:
    """Retry later with backoff, or fail for good (permanent, or out of attempts)."""
    attempts = delivery["attempts"] + 1
    failures = delivery.get("failures", 0) + 1
    if transient and attempts < policy.max_attempts:
        return {
            **delivery,
            "status": DeliveryStatus.retrying,
            "attempts": attempts,
            "failures": failures,
            "last_error": reason,
            "next_attempt_at": now + policy.delay(attempts),
        }
    return {
        **delivery,
        "status": DeliveryStatus.failed,
        "attempts": attempts,
        "failures": failures,
        "last_error": reason,
        "reason": reason if not transient else f"retries_exhausted_{reason}"[:64],
        "failed_at": now,
        "next_attempt_at": None,
    }


def expired(delivery: Document, now: datetime, reason: str = "expired") -> Document:
    """Not sent because it stopped mattering: its session started (`expired`), or what it asks
    for was done meanwhile (`check_in_closed`: a reminder of a check-in answered or missed)."""
    return {
        **delivery,
        "status": DeliveryStatus.expired,
        "reason": reason,
        "failed_at": now,
        "next_attempt_at": None,
    }


def page_undeliverable(deliveries: Iterable[Mapping[str, Any]]) -> bool:
    """Whether a page has not reached its clinician: nothing delivered outside the app and
    every external channel failed at least once (or there was none).

    Escalating on the first failure of every channel, not after the retries, trades a
    possible second page for a crisis not waiting minutes on one clinician's provider.
    """
    external = [d for d in deliveries if d["channel"] in EXTERNAL_CHANNELS]
    if any(d["status"] == DeliveryStatus.delivered for d in external):
        return False
    return all(d.get("failures", 0) > 0 or d["status"] in FINAL for d in external)
