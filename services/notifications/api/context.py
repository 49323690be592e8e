"""What the routes ask for besides the shared dependencies: the stores, ids in paths, access."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from services.notifications.store import (
    ALERTS,
    CHECK_INS,
    DELIVERIES,
    DELIVERY_LOGS,
    INBOX_ENTRIES,
    INBOXES,
    RECIPIENTS,
    SESSIONS,
    NotificationStores,
)
from shared.http.auth import Principal, Role
from shared.http.dependencies import Runtime
from shared.http.problems import Problem
from shared.runtime import ServiceRuntime

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


def stores_of(runtime: ServiceRuntime) -> NotificationStores:
    return NotificationStores(
        recipients=runtime.documents(RECIPIENTS),
        deliveries=runtime.documents(DELIVERIES),
        delivery_logs=runtime.documents(DELIVERY_LOGS),
        inboxes=runtime.documents(INBOXES),
        inbox_entries=runtime.documents(INBOX_ENTRIES),
        sessions=runtime.documents(SESSIONS),
        alerts=runtime.documents(ALERTS),
        check_ins=runtime.documents(CHECK_INS),
    )


async def notification_stores(runtime: Runtime) -> NotificationStores:
    """The service's stores, registered by `app.py` before the runtime started."""
    return stores_of(runtime)


Stores = Annotated[NotificationStores, Depends(notification_stores)]

RecipientId = Annotated[
    str, Path(pattern=ID_PATTERN, max_length=128, description="client, therapist or on-call id")
]
NotificationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,299}$", max_length=300)]


def ensure_reads_contacts(who: Principal, recipient_id: str) -> None:
    """Contact details: the recipient themself and admins, nobody else (not even services)."""
    if who.role is not Role.admin and who.subject != recipient_id:
        raise Problem(403, "Forbidden", "a recipient's contact details are readable only by them and admins")


def ensure_acts_for(who: Principal, recipient_id: str) -> None:
    """Preferences, inbox and delivery log: the recipient, admins, and services acting for them."""
    if not who.is_privileged and who.subject != recipient_id:
        raise Problem(403, "Forbidden", "this recipient is not yours to act for")
