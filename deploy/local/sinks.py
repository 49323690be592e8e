"""Local stand-ins for the outside world, so a person running the system can read what was sent.

    python -m deploy.local.sinks [--smtp-port 1025] [--provider-port 8025] [--out DIR]

- an SMTP server (aiosmtpd) that accepts every e-mail, writes it to `DIR/mail/*.eml`
  (open it with any mail client; the .ics attachment imports into a calendar) and prints
  a summary line;
- an SMS and push provider (an HTTP server) that checks each request's HMAC signature
  with `NOTIFICATIONS_PROVIDER_SIGNING_SECRET`, answers 401 to a bad one, appends each
  accepted message to `DIR/provider.jsonl` and prints it.

Point the service at them with `NOTIFICATIONS_SMTP_HOST=127.0.0.1`,
`NOTIFICATIONS_SMTP_PORT=1025`, `NOTIFICATIONS_PROVIDER_WEBHOOK_URL=http://127.0.0.1:8025/messages`
and the same signing secret. They are for development only: what they print and store
includes the recipients' addresses. The integration tests run the same classes.

They stand where the outside world stands, so they import nothing of the service: the
provider checks signatures as the scheme is written down (`services/notifications/README.md`,
Configuration), which makes every test that sends through it a check that the service
signs by that scheme.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, overload

DEFAULT_OUT = Path(".local/notifications")
DEVELOPMENT_SECRET = "carepath-local-provider-secret-do-not-use-in-production"  # noqa: S105 - local only
MAX_BODY_BYTES = 64 * 1024
MAX_SKEW_SECONDS = 300


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> bool:
    """What a provider checks: `X-Carepath-Signature: v1=<hex HMAC-SHA256(secret,
    "<X-Carepath-Timestamp>.<body>")>` for a timestamp within five minutes of now."""
    lowered = {key.lower(): value for key, value in headers.items()}
    timestamp = lowered.get("x-carepath-timestamp", "")
    if not timestamp.isdigit():
        return False
    if abs((now if now is not None else time.time()) - int(timestamp)) > MAX_SKEW_SECONDS:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(lowered.get("x-carepath-signature", ""), f"v1={expected}")


def _say(line: str) -> None:
    print(line, flush=True)


class ReceivedMail(Sequence[EmailMessage]):
    """E-mails as the sink received them, each parsed the first time it is read.

    Parsing a message with the standard library's modern policy (header objects, MIME
    parameters) cost the journey benchmark's process more CPU than the rest of its load
    generator: half of it, about 9 ms per intake of four e-mails, on the same two cores as the
    system it measures. The benchmark only counts what arrived; a test reads what it checks.
    """

    def __init__(self) -> None:
        self._raw: list[bytes] = []
        self._parsed: dict[int, EmailMessage] = {}
        self._lock = threading.Lock()

    def append(self, raw: bytes) -> int:
        """Keep one received message; return how many are kept now."""
        with self._lock:
            self._raw.append(raw)
            return len(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    @overload
    def __getitem__(self, index: int) -> EmailMessage: ...
    @overload
    def __getitem__(self, index: slice) -> list[EmailMessage]: ...
    def __getitem__(self, index: int | slice) -> EmailMessage | list[EmailMessage]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        number = range(len(self._raw))[index]  # an IndexError past the end, as a list's
        message = self._parsed.get(number)
        if message is None:
            parsed = message_from_bytes(self._raw[number], policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            message = self._parsed.setdefault(number, parsed)  # a racing reader's parse is the same
        return message


class MailSink:
    """An aiosmtpd handler keeping every e-mail: in `messages`, and as .eml files in `folder`.

    `refuse(address, code)` makes the server refuse that recipient (e.g. 550 or 450), so
    a bounce can be tried by hand or in a test.
    """

    def __init__(self, folder: Path | None = None, *, echo: bool = False) -> None:
        self.folder = folder
        self.echo = echo
        self.messages = ReceivedMail()
        self._refused: dict[str, int] = {}

    def refuse(self, address: str, code: int = 550) -> None:
        self._refused[address.lower()] = code

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        code = self._refused.get(address.lower())
        if code is not None:
            return f"{code} {'4.2.1 mailbox busy' if code < 500 else '5.1.1 no such mailbox'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        number = self.messages.append(envelope.content)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            (self.folder / f"{stamp}-{number:05d}.eml").write_bytes(envelope.content)
        if self.echo:
            message = self.messages[number - 1]
            attachments = [part.get_filename() for part in message.iter_attachments()]
            _say(
                f"mail  to={', '.join(envelope.rcpt_tos)} subject={message['Subject']!r}"
                + (f" attachments={attachments}" if attachments else "")
            )
        return "250 Message accepted for delivery"


class ProviderSink:
    """An SMS and push provider on `http://host:port/messages` that verifies signatures.

    `fail_next(n, status)` answers the next `n` requests with `status` (a provider outage
    to try retries with).
    """

    def __init__(
        self,
        secret: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_file: Path | None = None,
        echo: bool = False,
    ) -> None:
        self.secret = secret
        self.log_file = log_file
        self.echo = echo
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/messages"

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def start(self) -> ProviderSink:
        self._thread = threading.Thread(target=self._server.serve_forever, name="provider-sink", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _answer(self, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            self.attempts += 1
            if self._failures:
                return self._failures.pop(0)
        if not verify(self.secret, headers, body):
            if self.echo:
                _say("provider  refused a request with a bad or stale signature")
            return 401
        message = json.loads(body)
        with self._lock:
            self.received.append(message)
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            with self.log_file.open("a") as out:
                out.write(json.dumps({"received_at": datetime.now(UTC).isoformat(), **message}) + "\n")
        if self.echo:
            _say(f"{message.get('channel', '?'):<5} to={message.get('to')} text={message.get('text')!r}")
        return 202

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        answer: Callable[[dict[str, str], bytes], int] = self._answer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if self.path != "/messages" or length > MAX_BODY_BYTES:
                    self.send_response(404 if self.path != "/messages" else 413)
                    self.end_headers()
                    return
                status = answer(dict(self.headers.items()), self.rfile.read(length))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status":"accepted"}' if status == 202 else b'{"status":"refused"}')

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local SMTP server and SMS/push provider for Carepath")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=int(os.environ.get("NOTIFICATIONS_SMTP_PORT", 1025)))
    parser.add_argument("--provider-port", type=int, default=8025)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where mail and messages are written")
    args = parser.parse_args(argv)
    secret = os.environ.get("NOTIFICATIONS_PROVIDER_SIGNING_SECRET") or DEVELOPMENT_SECRET

    from aiosmtpd.controller import Controller  # a development dependency: imported only here

    mail = MailSink(args.out / "mail", echo=True)
    smtp = Controller(mail, hostname=args.host, port=args.smtp_port)
    provider = ProviderSink(
        secret, host=args.host, port=args.provider_port, log_file=args.out / "provider.jsonl", echo=True
    )
    smtp.start()
    provider.start()
    _say(f"SMTP sink on {args.host}:{args.smtp_port}: e-mails in {args.out / 'mail'}/*.eml")
    _say(f"SMS/push provider sink on {provider.url}: messages in {args.out / 'provider.jsonl'}")
    if secret == DEVELOPMENT_SECRET:
        _say(
            "provider sink checks signatures with the development secret; "
            "set NOTIFICATIONS_PROVIDER_SIGNING_SECRET (the same for the service) to choose another"
        )
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    provider.stop()
    smtp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
