"""The notifications service's settings: everything of `ServiceSettings`, read under `NOTIFICATIONS_`.

`NOTIFICATIONS_HTTP_PORT` (8004 under `make run`), `NOTIFICATIONS_MONGODB_DATABASE`
(`carepath_notifications`), and what this service alone needs: the SMTP server (and how
many connections to keep open to it), the SMS and push provider's webhook, the on-call
rota, the delivery retry policy and when an unanswered check-in is reminded of. With
`CAREPATH_ENV=production` it also refuses to start with e-mail in clear text, the
published provider secret, a webhook over plain http or no one to page (`unsafe_settings`).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.security.production import PUBLISHED, UnsafeSetting, env_name, is_published_secret
from shared.settings import ServiceSettings, TextList


class NotificationsSettings(ServiceSettings):
    service_name: ClassVar[str] = "notifications"
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore")

    # E-mail over SMTP: `none` (a local sink), `starttls` (587) or implicit `tls` (465).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_validate_certs: bool = True
    smtp_from: str = Field(default="no-reply@carepath.local", pattern=r"^[^@\s]+@[^@\s]+$")
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # E-mails go over kept connections (services/notifications/channels/smtp.py): at most this
    # many open at once, each carrying one message at a time; a send waits for a free one.
    smtp_connections: int = Field(default=4, ge=1, le=64)
    # A kept connection idle this long is closed and replaced at its next use: relays drop
    # idle clients (often after 30 to 300 s), and a fresh connection is cheaper than a lost one.
    smtp_idle_seconds: float = Field(default=30.0, gt=0, le=3600)
    # The name this host gives in EHLO. Unset: its fully qualified name, looked up once.
    smtp_local_hostname: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.\-]+$|^\[[0-9A-Fa-f:.]+\]$")
    # SMS and push through a provider's HTTP webhook, signed with HMAC-SHA256. Unset: SMS
    # and push deliveries fail with `provider_not_configured` (recorded, never silent).
    provider_webhook_url: str | None = Field(default=None, pattern=r"^https?://")
    provider_signing_secret: SecretStr | None = None
    provider_timeout_seconds: float = Field(default=10.0, gt=0)
    # Who is paged for a risk flag, in order: the next one when a page cannot be delivered.
    # A JSON list or comma-separated recipient ids: `oncall-1,oncall-2`.
    on_call_rota: TextList = Field(default_factory=list)
    # Links in messages point into the client and clinician apps.
    app_base_url: str = Field(default="https://app.carepath.local", pattern=r"^https?://")
    # A delivery due now is attempted at once by whoever claims it (the event's handler), so one
    # attempt (compose and send, e-mail or webhook) is cut off after this long (real seconds):
    # recorded as the transient failure `attempt_timeout`, retried by timer with backoff.
    # A recipient read this long ago is reused by the next read (one intake's notices come
    # within a tenth of a second; a change written here drops the copy): store/recent.py.
    recipient_reuse_seconds: float = Field(default=0.25, ge=0, le=5)
    delivery_attempt_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Transient provider failures: retried with exponential backoff, up to a bound.
    delivery_max_attempts: int = Field(default=6, ge=1, le=50)
    delivery_retry_initial_seconds: float = Field(default=30.0, gt=0)
    delivery_retry_max_seconds: float = Field(default=3600.0, gt=0)
    # Critical messages (risk alerts, crisis resources) retry sooner.
    critical_retry_initial_seconds: float = Field(default=2.0, gt=0)
    critical_retry_max_seconds: float = Field(default=60.0, gt=0)
    # An unanswered check-in is reminded of once, this long after it fell due (domain time:
    # how long a person is given, so a demo clock shortens it like any appointment).
    check_in_reminder_hours: float = Field(default=72.0, gt=0, le=24 * 60)
    # SMS and push show on lock screens: word them without therapy, therapist, plan or risk
    # (services/notifications/rendering.py). E-mail and the in-app inbox keep the full wording.
    discreet_wording: bool = True

    def unsafe_settings(self) -> list[UnsafeSetting]:
        """Beyond the shared checks: messages carry join links; a risk flag needs someone to page."""
        unsafe = super().unsafe_settings()
        if self.smtp_security == "none":
            unsafe.append(
                UnsafeSetting(
                    env_name(self, "smtp_security"), "is none: e-mail would cross the network in clear text"
                )
            )
        elif not self.smtp_validate_certs:
            unsafe.append(
                UnsafeSetting(env_name(self, "smtp_validate_certs"), "is false: TLS to an unchecked server")
            )
        for secret in ("provider_signing_secret", "smtp_password"):
            if is_published_secret(getattr(self, secret)):
                unsafe.append(UnsafeSetting(env_name(self, secret), PUBLISHED))
        if self.provider_webhook_url and not self.provider_webhook_url.startswith("https://"):
            unsafe.append(UnsafeSetting(env_name(self, "provider_webhook_url"), "must be https"))
        if not self.on_call_rota:
            unsafe.append(
                UnsafeSetting(env_name(self, "on_call_rota"), "is empty: a risk flag would page no one")
            )
        return unsafe
