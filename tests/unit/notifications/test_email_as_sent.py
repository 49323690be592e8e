"""The e-mail written as bytes carries what `EmailMessage` built before: every header, part and attachment.

`reference_email` is how the message was built before (the email package's `EmailMessage`,
~2 ms of CPU each); the two are compared as a mail client reads them. The one difference is
`Content-Language`, which the old build set and then lost (`set_content` clears every
`Content-*` header); it is there now.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import pytest

from services.notifications.channels import Attachment, DeliveryFailure, Outbound
from services.notifications.channels.smtp import SmtpConfig, SmtpSender, email_bytes, message_id
from tests.unit.notifications.test_channels import MESSAGE, outbound

SENDER = "no-reply@carepath.test"
ICS = Attachment(
    "session.ics",
    "text/calendar; method=PUBLISH",
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Sesi\xc3\xb3n\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
)
SPANISH = replace(
    MESSAGE,
    subject="Recordatorio: su sesión empieza mañana a las 9:00, ¿podrá asistir? Únase desde la app",
    body="Hola, Ana:\n\nSu sesión empieza mañana. Únase aquí: https://meet.carepath.test/s/1 " + "á" * 90,
    footer="Recibe este correo porque usa Carepath.",
    locale="es",
)


def reference_email(outbound: Outbound, sender: str) -> EmailMessage:
    """The e-mail as `EmailMessage` built it before bytes were written directly."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = outbound.address
    message["Subject"] = outbound.message.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(outbound.delivery_id, sender)
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


def as_read(message: EmailMessage) -> list[Any]:
    """Headers (but the date, boundaries and transfer encodings) and every part's decoded content
    (line ends aside: base64 carries the newline it was given), in order."""
    headers = sorted(
        (name, str(value))
        for name, value in message.items()
        if name not in ("Date", "Content-Transfer-Encoding")
        and not (message.is_multipart() and name == "Content-Type")
    )
    if message.is_multipart():
        return [headers, message.get_content_type(), *(as_read(part) for part in message.iter_parts())]
    content = message.get_content()
    return [headers, content.replace("\r\n", "\n") if isinstance(content, str) else content]


def parsed(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize(
    "sent",
    [
        outbound(attachments=(ICS,)),
        outbound(critical=False),
        outbound(message=SPANISH, attachments=(ICS,)),
        outbound(address="o'neil+care@mail.example.org", critical=False),
    ],
    ids=["with-calendar", "plain", "spanish", "unusual-address"],
)
def test_the_email_carries_every_header_part_and_attachment_the_email_package_built(sent: Outbound) -> None:
    written = parsed(email_bytes(sent, SENDER))
    before = parsed(reference_email(sent, SENDER).as_bytes(policy=policy.SMTP))

    assert written["Content-Language"] == sent.message.locale
    del written["Content-Language"]
    assert as_read(written) == as_read(before)
    assert written["Date"] is not None


def test_the_email_is_seven_bit_with_crlf_lines_of_at_most_998_characters() -> None:
    data = email_bytes(outbound(message=SPANISH, attachments=(ICS,)), SENDER)

    assert data.isascii()
    lines = data.split(b"\r\n")
    assert b"\n" not in b"".join(lines) and all(len(line) <= 998 for line in lines)


def test_a_parameter_a_quoted_string_cannot_hold_is_written_the_rfc_2231_way() -> None:
    odd = Attachment(
        'sesión "1".ics', "text/calendar; method=CANCEL", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    )

    (attachment,) = parsed(email_bytes(outbound(attachments=(odd,)), SENDER)).iter_attachments()

    assert attachment.get_filename() == 'sesión "1".ics'
    assert attachment.get_param("method") == "CANCEL"


@pytest.mark.parametrize("smuggled", ["Hello\r\nBcc: someone@example.org", "Hello\nBcc: x@example.org"])
def test_a_subject_with_a_line_break_is_refused_for_good_never_written_as_a_second_header(
    smuggled: str,
) -> None:
    sent = outbound(message=replace(MESSAGE, subject=smuggled))

    with pytest.raises(ValueError, match="line break"):
        email_bytes(sent, SENDER)
    with pytest.raises(DeliveryFailure) as refused:
        asyncio.run(SmtpSender(SmtpConfig("127.0.0.1", 1, "none", None, None, True, SENDER, 1.0)).send(sent))
    assert not refused.value.transient
