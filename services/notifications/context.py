"""What commands, handlers, timers and routes use, built once in `app.py`: `NotificationsContext`.

Stores, timers, the clock, one sender per channel, the renderer and the delivery policy
(settings turned into values), and who this replica is among its peers (its claims name it;
a claim met again asks whether its claimer is gone). Unit tests build it on the in-memory
fakes with recording senders.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from services.notifications.channels import Sender
from services.notifications.domain.channels import Channel
from services.notifications.domain.delivery import RetryPolicy
from services.notifications.rendering import Renderer
from services.notifications.settings import NotificationsSettings
from services.notifications.store import NotificationStores
from shared.ports import Clock, Timers


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    source: str  # CloudEvents source of what this service publishes
    retry: RetryPolicy
    critical_retry: RetryPolicy
    on_call_rota: tuple[str, ...]
    email_from: str
    check_in_reminder_after: timedelta = timedelta(hours=72)  # domain time after the due time
    attempt_timeout_seconds: float = 10.0  # real time: a provider answers at its own pace
    first_attempt_limit: timedelta = timedelta(seconds=40)
    """Domain time after its claim by which a live claimer's first attempt is recorded or over:
    the attempt timeout and as long again as a document's lease (which excluded it before)."""

    @classmethod
    def from_settings(cls, settings: NotificationsSettings, *, speed: float = 1.0) -> DeliveryPolicy:
        """`speed`: domain seconds per real second (a demo clock); a provider recovers in real time."""
        return cls(
            source=settings.source,
            retry=RetryPolicy(
                max_attempts=settings.delivery_max_attempts,
                initial=timedelta(seconds=settings.delivery_retry_initial_seconds * speed),
                maximum=timedelta(seconds=settings.delivery_retry_max_seconds * speed),
            ),
            critical_retry=RetryPolicy(
                max_attempts=settings.delivery_max_attempts,
                initial=timedelta(seconds=settings.critical_retry_initial_seconds * speed),
                maximum=timedelta(seconds=settings.critical_retry_max_seconds * speed),
            ),
            on_call_rota=tuple(settings.on_call_rota),
            email_from=settings.smtp_from,
            check_in_reminder_after=timedelta(hours=settings.check_in_reminder_hours),
            attempt_timeout_seconds=settings.delivery_attempt_timeout_seconds,
            first_attempt_limit=timedelta(
                seconds=(settings.delivery_attempt_timeout_seconds + settings.document_lease_seconds) * speed
            ),
        )


async def _never_gone(replica: str) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class NotificationsContext:
    stores: NotificationStores
    timers: Timers
    clock: Clock
    senders: Mapping[Channel, Sender]
    renderer: Renderer
    policy: DeliveryPolicy
    replica: str = ""
    """This replica's instance name: its claims of deliveries carry it (`claimed_by`)."""
    replica_gone: Callable[[str], Awaitable[bool]] = _never_gone
    """Whether that replica's heartbeat ran out (`ServiceRuntime.replica_gone`)."""
    attempting: set[str] = field(default_factory=set)
    """Deliveries a call in this process claimed and has not recorded yet: their first attempt
    is that call's (from the claims' insert to the record)."""
