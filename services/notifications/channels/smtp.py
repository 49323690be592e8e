"""E-mail over SMTP (aiosmtplib): a text and an HTML part, the session's .ics when it has one.

TLS (`starttls` or implicit `tls`) and authentication come from settings. The Message-ID
is derived from the delivery, so a retried send after a crash carries the same id and
mail systems that deduplicate on it show one message. SMTP replies are classified the
usual way: 4xx and connection trouble are transient, 5xx permanent.

Connections are kept open and reused: up to `NOTIFICATIONS_SMTP_CONNECTIONS`, each carrying
one message at a time, which saves every e-mail a connect, EHLO, TLS handshake, login and
QUIT. A kept connection the server closed, or idle longer than
`NOTIFICATIONS_SMTP_IDLE_SECONDS` (servers drop idle clients), is replaced. One that turns
out broken before its message's DATA began is retried once on a new connection: the server
never had the message, so it cannot arrive twice. Lost during or after DATA, it is not: the
server may have accepted the message, and the delivery's own retry (same Message-ID) decides.
The EHLO name is `NOTIFICATIONS_SMTP_LOCAL_HOSTNAME`, else this host's name, looked up once.

The message is written as bytes here rather than through `EmailMessage`, whose header
classes parse and refold every header (~2 ms of CPU per e-mail): same headers, same parts.
Headers that are short printable ASCII are written as they are, which is what the email
package writes for them; any other goes through the package's policy (RFC 2047, folding).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import os
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8, EmailPolicy
from email.policy import default as default_policy
from email.utils import encode_rfc2231, formatdate
from typing import Any, Literal

import aiosmtplib
from aiosmtplib.typing import Default

from services.notifications.channels import DeliveryFailure, Outbound, permanent, transient
from services.notifications.settings import NotificationsSettings

CRLF = "\r\n"
MAX_LINE = 78
"""RFC 5322's recommended line length, the email package's `max_line_length`."""
QUIT_TIMEOUT_SECONDS = 2.0
"""How long a kept connection's polite QUIT may take when the service stops."""


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
    connections: int = 4
    idle_seconds: float = 30.0
    local_hostname: str | None = None  # None: this host's FQDN, looked up once

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
            connections=settings.smtp_connections,
            idle_seconds=settings.smtp_idle_seconds,
            local_hostname=settings.smtp_local_hostname,
        )


def message_id(delivery_id: str, sender: str) -> str:
    digest = hashlib.sha256(delivery_id.encode()).hexdigest()[:32]
    return f"<{digest}@{sender.rsplit('@', 1)[-1]}>"


# ---------------------------------------------------------------------------- the message

_TEXT = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")
"""Printable ASCII words, single spaces: an unstructured value the email package writes as is."""
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")
"""A bare address (no display name, comment or quoting): written as is too."""
_MESSAGE_ID = re.compile(r"<[0-9a-f]+@[A-Za-z0-9.-]+>")
_PARAMETER = re.compile(r"[\x21-\x7e]+")


def _header(name: str, value: str, policy: EmailPolicy[Any], plain: re.Pattern[str] = _TEXT) -> str:
    """`Name: value` as `EmailMessage` writes it under `policy`; a value with a line break
    (a header smuggled in) is refused, as `EmailMessage` refuses it."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"the {name} header may not contain a line break")
    line = f"{name}: {value}"
    if len(line) <= MAX_LINE and "=?" not in value and plain.fullmatch(value):
        return line + CRLF
    return str(policy.header_factory(name, value).fold(policy=policy))


def _parameter(name: str, value: str) -> str:
    """`; name="value"`, or RFC 2231 (`name*=utf-8''...`) for what a quoted string cannot hold."""
    if _PARAMETER.fullmatch(value) and '"' not in value and "\\" not in value:
        return f'; {name}="{value}"'
    return f"; {name}*={encode_rfc2231(value, 'utf-8')}"


def _boundary() -> str:
    """Random: `=_` cannot occur in quoted-printable or base64 text, and 96 bits nowhere else."""
    return "=_" + os.urandom(12).hex()


def _text_part(text: str, subtype: str, *, mime_version: bool) -> str:
    """A UTF-8 text part: 7bit when it is short-lined ASCII, else quoted-printable, as the email
    package chooses for mostly-ASCII text (never raw 8-bit, so any relay carries it)."""
    lines = text.encode().splitlines()
    body = b"\r\n".join(lines) + b"\r\n"
    if body.isascii() and all(len(line) <= MAX_LINE for line in lines):
        encoding = "7bit"
    else:
        encoding, body = "quoted-printable", binascii.b2a_qp(body, istext=True)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: {encoding}{CRLF}"
        + (f"MIME-Version: 1.0{CRLF}" if mime_version else "")
        + CRLF
        + body.decode("ascii")
    )


def _attachment_part(filename: str, content_type: str, data: bytes) -> str:
    kind, *params = [part.strip() for part in content_type.split(";")]
    pairs = (param.split("=", 1) for param in params if "=" in param)
    parameters = "".join(_parameter(key.strip(), value.strip().strip('"')) for key, value in pairs)
    return (
        f"Content-Type: {kind}{parameters}{CRLF}"
        f"Content-Transfer-Encoding: base64{CRLF}"
        f"Content-Disposition: attachment{_parameter('filename', filename)}{CRLF}"
        f"MIME-Version: 1.0{CRLF}"
        f"{CRLF}" + base64.encodebytes(data).decode("ascii").replace("\n", CRLF)
    )


def _multipart(subtype: str, parts: Iterable[str]) -> tuple[str, str]:
    """A multipart's Content-Type header and its body."""
    boundary = _boundary()
    header = f'Content-Type: multipart/{subtype};{CRLF} boundary="{boundary}"{CRLF}'
    body = "".join(f"--{boundary}{CRLF}{part}{CRLF}" for part in parts) + f"--{boundary}--{CRLF}"
    return header, body


def email_bytes(outbound: Outbound, sender: str) -> bytes:
    """The e-mail as sent: headers, then multipart/alternative (text, HTML) inside
    multipart/mixed when there are attachments (the .ics)."""
    # Non-ASCII addresses need SMTPUTF8, and then headers are written in UTF-8 (as before).
    policy = SMTP if (sender + outbound.address).isascii() else SMTPUTF8
    message = outbound.message
    headers = [
        _header("From", sender, policy, _ADDRESS),
        _header("To", outbound.address, policy, _ADDRESS),
        _header("Subject", message.subject, policy),
        _header("Date", formatdate(localtime=False), policy),
        _header("Message-ID", message_id(outbound.delivery_id, sender), policy, _MESSAGE_ID),
        _header("Content-Language", message.locale, policy),
        _header("X-Carepath-Notification", outbound.notification_id, policy),
    ]
    if outbound.critical:
        headers += [f"Importance: high{CRLF}", f"X-Priority: 1{CRLF}"]
    text = f"{message.body}\n\n-- \n{message.footer}\n"
    content_type, body = _multipart(
        "alternative",
        [_text_part(text, "plain", mime_version=False), _text_part(message.html, "html", mime_version=True)],
    )
    if outbound.attachments:
        inner = content_type + CRLF + body
        attachments = [_attachment_part(a.filename, a.content_type, a.data) for a in outbound.attachments]
        content_type, body = _multipart("mixed", [inner, *attachments])
    whole = "".join(headers) + f"MIME-Version: 1.0{CRLF}" + content_type + CRLF + body
    return whole.encode("utf-8")


def build_email(outbound: Outbound, sender: str) -> EmailMessage:
    """The e-mail as its recipient's mail client reads it (for tests and tools; sending uses
    `email_bytes`)."""
    message = message_from_bytes(email_bytes(outbound, sender), policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


# ---------------------------------------------------------------------------- the connections


class _Connection(aiosmtplib.SMTP):
    """One kept SMTP session; it knows whether the message in hand got as far as DATA."""

    idle_since = 0.0
    data_begun = False

    async def data(
        self, message: str | bytes, /, *, timeout: float | Literal[Default.token] | None = Default.token
    ) -> aiosmtplib.SMTPResponse:
        self.data_begun = True
        return await super().data(message, timeout=timeout)


class SmtpSender:
    """Sends each e-mail over a kept connection; `close()` (the service stopping) ends them."""

    def __init__(self, config: SmtpConfig, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._monotonic = monotonic
        self._slots = asyncio.Semaphore(config.connections)
        self._idle: list[_Connection] = []  # most recently used last
        self._local_hostname = config.local_hostname
        self._closed = False

    async def send(self, outbound: Outbound) -> None:
        try:
            message = email_bytes(outbound, self._config.sender)
        except ValueError:
            raise permanent("smtp_invalid_header") from None  # no retry can make it valid
        try:
            async with self._slots:
                await self._send(message, outbound.address)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refused.code for refused in exc.recipients]
            raise _by_code(min(codes) if codes else 550) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise _by_code(exc.code) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise transient(f"smtp_{type(exc).__name__.lower()}"[:64]) from None

    async def close(self) -> None:
        """Say QUIT on every idle connection; one in use is closed when its send ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_quit(connection) for connection in idle))

    @property
    def open_connections(self) -> int:
        """Connections kept for the next e-mails (what a test can see of the pool)."""
        return len(self._idle)

    async def _send(self, message: bytes, recipient: str) -> None:
        kept = self._kept()
        if kept is not None:
            try:
                await self._transact(kept, message, recipient)
                return
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPResponseException, OSError) as exc:
                if kept.data_begun or not _broken(exc):
                    raise
        await self._transact(await self._connect(), message, recipient)

    def _kept(self) -> _Connection | None:
        """The most recently used idle connection still open; those stale or closed are dropped."""
        oldest = self._monotonic() - self._config.idle_seconds
        fresh = []
        for connection in self._idle:
            if connection.is_connected and connection.idle_since >= oldest:
                fresh.append(connection)
            else:
                connection.close()
        self._idle = fresh
        return self._idle.pop() if self._idle else None

    async def _connect(self) -> _Connection:
        config = self._config
        if self._local_hostname is None:  # once, off the event loop: it may ask the DNS
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        connection = _Connection(
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            local_hostname=self._local_hostname,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            validate_certs=config.validate_certs,
            timeout=config.timeout_seconds,
        )
        await connection.connect()
        return connection

    async def _transact(self, connection: _Connection, message: bytes, recipient: str) -> None:
        """MAIL, RCPT, DATA; the connection is kept after an answer (sent or refused, the
        envelope reset), closed after anything else (lost, timed out, cancelled)."""
        connection.data_begun = False
        options = ["BODY=8BITMIME"] if connection.supports_extension("8BITMIME") else []
        if not (self._config.sender + recipient).isascii():
            options.append("SMTPUTF8")
        try:
            await connection.sendmail(self._config.sender, [recipient], message, mail_options=options)
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
            self._keep(connection)
            raise
        except BaseException:
            connection.close()
            raise
        self._keep(connection)

    def _keep(self, connection: _Connection) -> None:
        if self._closed or not connection.is_connected:
            connection.close()
            return
        connection.idle_since = self._monotonic()
        self._idle.append(connection)


def _broken(exc: Exception) -> bool:
    """The connection failed, rather than the server refusing the message: 421 is "closing"."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code == 421
    return isinstance(exc, (aiosmtplib.SMTPServerDisconnected, ConnectionError))


async def _quit(connection: _Connection) -> None:
    try:
        await connection.quit(timeout=QUIT_TIMEOUT_SECONDS)
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        pass  # going anyway
    finally:
        connection.close()


def _by_code(code: int) -> DeliveryFailure:
    reason = f"smtp_{code}"
    return transient(reason) if 400 <= code < 500 else permanent(reason)
