"""The local SMTP sink keeps what it received as sent, and parses each e-mail once, when read."""

from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest

from deploy.local.sinks import MailSink, ReceivedMail


def raw(to: str, subject: str) -> bytes:
    message = EmailMessage()
    message["To"], message["Subject"] = to, subject
    message.set_content("Your session is booked.")
    return message.as_bytes()


def kept(folder: Path) -> list[bytes]:
    return sorted(p.read_bytes() for p in folder.glob("*.eml"))


async def test_mail_is_counted_on_arrival_and_parsed_once_when_first_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    parsed: list[bytes] = []

    def counting(data: bytes, **kwargs: object) -> object:
        parsed.append(data)
        return message_from_bytes(data, **kwargs)

    monkeypatch.setattr("deploy.local.sinks.message_from_bytes", counting)
    sink = MailSink(tmp_path)
    for n in range(3):
        envelope = SimpleNamespace(
            content=raw(f"c{n}@x.example", f"Booked {n}"), rcpt_tos=[f"c{n}@x.example"]
        )
        assert await sink.handle_DATA(None, None, envelope) == "250 Message accepted for delivery"

    assert len(sink.messages) == 3
    assert parsed == []  # counting reads nothing
    assert [str(m["Subject"]) for m in sink.messages] == ["Booked 0", "Booked 1", "Booked 2"]
    assert sink.messages[-1] is sink.messages[2]  # parsed once, then the same message
    assert [str(m["To"]) for m in sink.messages[1:]] == ["c1@x.example", "c2@x.example"]
    assert len(parsed) == 3
    assert kept(tmp_path) == sorted(parsed)  # the .eml files hold what was sent


def test_reading_past_the_last_mail_is_an_index_error_as_with_a_list() -> None:
    mail = ReceivedMail()
    mail.append(raw("a@x.example", "One"))
    with pytest.raises(IndexError):
        mail[1]
    assert list(mail[5:]) == []
