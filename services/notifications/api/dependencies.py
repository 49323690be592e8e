"""What the routes ask for besides the shared dependencies: the service context and ids in paths."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from services.notifications.context import NotificationsContext
from shared.events.common import ID_PATTERN
from shared.http.dependencies import service_context

Context = Annotated[NotificationsContext, Depends(service_context)]

RecipientId = Annotated[
    str, Path(pattern=ID_PATTERN, max_length=128, description="client, therapist or on-call id")
]
NotificationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,299}$", max_length=300)]
"""An inbox entry is keyed by its delivery, `{event_id}:{recipient_id}:{channel}`: longer than an id."""
