"""E-mail over SMTP (aiosmtplib): a text and an HTML part, the session's .ics when it has one.

TLS (`starttls` or implicit `tls`) and authentication come from settings. The Message-ID
is derived from the delivery, so a retried send after a crash carries the same id and
mail systems that deduplicate on it show one message. SMTP replies are classified the
usual way: 4xx and connection trouble are transient, 5xx permanent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from services.notifications.channels import DeliveryFailure, Outbound, permanent, transient
from services.notifications.settings import NotificationsSettings


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # none | starttls | tls
    username: str | None
    password: str | None
    validate_certs: bool
    sender: str
    timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: NotificationsSettings) -> SmtpConfig:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            validate_certs=settings.smtp_validate_certs,
            sender=settings.smtp_from,
            timeout_seconds=settings.smtp_timeout_seconds,
        )


def message_id(delivery_id: str, sender: str) -> str:
    digest = hashlib.sha256(delivery_id.encode()).hexdigest()[:32]
    return f"<{digest}@{sender.rsplit('@', 1)[-1]}>"


def build_email(outbound: Outbound, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = outbound.address
    message["Subject"] = outbound.message.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(outbound.delivery_id, sender)
    message["Content-Language"] = outbound.message.locale
    message["X-Carepath-Notification"] = outbound.notification_id
    if outbound.critical:
        message["Importance"] = "high"
        message["X-Priority"] = "1"
    message.set_content(f"{outbound.message.body}\n\n-- \n{outbound.message.footer}\n")
    message.add_alternative(outbound.message.html, subtype="html")
    for attachment in outbound.attachments:
        maintype, _, rest = attachment.content_type.partition("/")
        subtype, *params = [part.strip() for part in rest.split(";")]
        extra = dict(param.split("=", 1) for param in params if "=" in param)
        message.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename, params=extra
        )
    return message


class SmtpSender:
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, outbound: Outbound) -> None:
        config = self._config
        email = build_email(outbound, config.sender)
        try:
            await aiosmtplib.send(
                email,
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                use_tls=config.security == "tls",
                start_tls=config.security == "starttls",
                validate_certs=config.validate_certs,
                timeout=config.timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refused.code for refused in exc.recipients]
            raise _by_code(min(codes) if codes else 550) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise _by_code(exc.code) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise transient(f"smtp_{type(exc).__name__.lower()}"[:64]) from None


def _by_code(code: int) -> DeliveryFailure:
    reason = f"smtp_{code}"
    return transient(reason) if 400 <= code < 500 else permanent(reason)
