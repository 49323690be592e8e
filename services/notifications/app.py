"""The notifications service's one wiring place: runtime, context, senders, subscriptions, timers, routers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from typing import Any

from fastapi import FastAPI

from services.notifications import timers
from services.notifications.api import data_rights, notifications, recipients
from services.notifications.channels import Sender
from services.notifications.channels.in_app import InAppSender
from services.notifications.channels.smtp import SmtpConfig, SmtpSender
from services.notifications.channels.webhook import ProviderConfig, WebhookSender
from services.notifications.context import DeliveryPolicy, NotificationsContext
from services.notifications.domain.channels import Channel
from services.notifications.handlers.on_booking_failed import on_booking_failed
from services.notifications.handlers.on_check_in_completed import on_check_in_completed
from services.notifications.handlers.on_check_in_due import on_check_in_due
from services.notifications.handlers.on_check_in_missed import on_check_in_missed
from services.notifications.handlers.on_check_in_reminder_timer import on_check_in_reminder_timer
from services.notifications.handlers.on_delivery_timer import on_delivery_timer
from services.notifications.handlers.on_escalation_timer import on_escalation_timer
from services.notifications.handlers.on_intake_completed import on_intake_completed
from services.notifications.handlers.on_match_accepted import on_match_accepted
from services.notifications.handlers.on_match_declined import on_match_declined
from services.notifications.handlers.on_match_proposed import on_match_proposed
from services.notifications.handlers.on_risk_flagged import on_risk_flagged
from services.notifications.handlers.on_session_attendance_recorded import on_session_attendance_recorded
from services.notifications.handlers.on_session_booked import on_session_booked
from services.notifications.handlers.on_session_cancelled import on_session_cancelled
from services.notifications.handlers.on_session_reminder_timer import on_session_reminder_timer
from services.notifications.handlers.on_session_rescheduled import on_session_rescheduled
from services.notifications.handlers.on_treatment_plan_updated import on_treatment_plan_updated
from services.notifications.metrics import RiskAlertWatch
from services.notifications.rendering import Renderer
from services.notifications.settings import NotificationsSettings
from services.notifications.store import COLLECTIONS, DELIVERIES, NotificationStores
from services.notifications.store.client_data import client_data
from services.notifications.store.recipients import SealedRecipients
from shared.clock import speed_of
from shared.data_rights import ERASURES
from shared.events.models import (
    BookingFailed,
    CheckInCompleted,
    CheckInDue,
    CheckInMissed,
    IntakeCompleted,
    MatchAccepted,
    MatchDeclined,
    MatchProposed,
    NotificationDelivered,
    NotificationFailed,
    RiskFlagged,
    SessionAttendanceRecorded,
    SessionBooked,
    SessionCancelled,
    SessionRescheduled,
    TreatmentPlanUpdated,
)
from shared.http.app import create_service_app
from shared.messaging.subscriptions import Subscription
from shared.ports import Clock
from shared.runtime import ServiceRuntime
from shared.security.client_keys import COLLECTION as CLIENT_KEYS
from shared.security.client_keys import ClientKeys

Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]

DESCRIPTION = """Tells the right people at each step of the journey on their chosen channels
(e-mail with calendar invitations, SMS, push, the in-app inbox), so nobody waits in silence:
proposals, the waitlist, an introduction held or missed (with the next free times), a plan to
read, a check-in (reminded once if unanswered; the therapist prompted after repeated misses).
Reminds them 24 h and 1 h before each session, holds non-critical messages through quiet
hours, and sends risk alerts at once: crisis resources of the client's country and language
to the client, and pages naming the country to the on-call rota, with escalation.
Contact details live only here and are readable only by their recipient and admins."""


def build_app(settings: NotificationsSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    runtime = ServiceRuntime(settings, clock=clock)
    # Deliveries (and the logs among them) are claimed by unique inserts and written one at a
    # time: their writes check the revision, no lease (commands/notify.py).
    stores = NotificationStores(
        **{
            collection: runtime.documents(collection, revision_checked=collection == DELIVERIES)
            for collection in COLLECTIONS
        }
    )
    # Contact details sealed at rest, a client's with their own data key (crypto-shredding).
    keys = ClientKeys(runtime.documents(CLIENT_KEYS, relayed=False), lambda: runtime.cipher)
    sealed = SealedRecipients(
        stores.recipients, keys, lambda: runtime.cipher, reuse_seconds=settings.recipient_reuse_seconds
    )
    stores = replace(stores, recipients=sealed)
    webhook = WebhookSender(ProviderConfig.from_settings(settings))
    email = SmtpSender(SmtpConfig.from_settings(settings))
    senders: dict[Channel, Sender] = {
        "email": email,
        "sms": webhook,
        "push": webhook,
        "in_app": InAppSender(),
    }
    ctx = NotificationsContext(
        stores=stores,
        timers=runtime.timers,
        clock=runtime.clock,
        senders=senders,
        renderer=Renderer(app_url=settings.app_base_url, discreet=settings.discreet_wording),
        policy=DeliveryPolicy.from_settings(settings, speed=speed_of(runtime.clock)),
        replica=runtime.instance,
        replica_gone=runtime.replica_gone,
    )
    runtime.subscribe(
        Subscription(RiskFlagged, on_risk_flagged(ctx)),
        Subscription(IntakeCompleted, on_intake_completed(ctx)),
        Subscription(MatchProposed, on_match_proposed(ctx)),
        Subscription(MatchAccepted, on_match_accepted(ctx)),
        Subscription(MatchDeclined, on_match_declined(ctx)),
        Subscription(BookingFailed, on_booking_failed(ctx)),
        Subscription(SessionBooked, on_session_booked(ctx)),
        Subscription(SessionRescheduled, on_session_rescheduled(ctx)),
        Subscription(SessionCancelled, on_session_cancelled(ctx)),
        Subscription(SessionAttendanceRecorded, on_session_attendance_recorded(ctx)),
        Subscription(CheckInDue, on_check_in_due(ctx)),
        Subscription(CheckInCompleted, on_check_in_completed(ctx)),
        Subscription(CheckInMissed, on_check_in_missed(ctx)),
        Subscription(TreatmentPlanUpdated, on_treatment_plan_updated(ctx)),
    )
    runtime.on_timer(timers.DELIVERY, on_delivery_timer(ctx))
    runtime.on_timer(timers.SESSION_REMINDER, on_session_reminder_timer(ctx))
    runtime.on_timer(timers.CHECK_IN_REMINDER, on_check_in_reminder_timer(ctx))
    runtime.on_timer(timers.ESCALATION, on_escalation_timer(ctx))
    runtime.produces(NotificationDelivered, NotificationFailed)
    app = create_service_app(
        runtime,
        [recipients.router, notifications.router, data_rights.router],
        title="Carepath notifications",
        description=DESCRIPTION,
        context=ctx,
    )
    app.state.data_rights = client_data(
        ctx,
        keys=keys,
        cipher_of=lambda: runtime.cipher,
        audit=runtime.documents("audit", relayed=False),
        erasures=runtime.documents(ERASURES, relayed=False),
    )
    watch = RiskAlertWatch(stores, runtime.clock, speed=speed_of(runtime.clock))
    app.state.risk_alert_watch = watch  # what tests ask to count at once, beside the runtime
    app.router.lifespan_context = _watching_risk_alerts(app.router.lifespan_context, watch, email)
    return app


def _watching_risk_alerts(lifespan: Lifespan, watch: RiskAlertWatch, email: SmtpSender) -> Lifespan:
    """The app's lifespan, plus the undelivered-risk-alert metrics kept current while it runs,
    and the SMTP connections closed once the runtime (every send) has stopped."""

    @asynccontextmanager
    async def lifespan_with_watch(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with lifespan(app):
                watching = asyncio.create_task(watch.run(), name="risk-alert-watch")
                try:
                    yield
                finally:
                    watch.stop()
                    await watching
        finally:
            await email.close()

    return lifespan_with_watch
