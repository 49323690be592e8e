"""The system already running elsewhere (the docker compose stack), as the journey suite sees it.

`JOURNEY_SYSTEM=external` makes the suite test it instead of starting processes. The
environment says where everything is:

    JOURNEY_INTAKE_URL .. JOURNEY_NOTIFICATIONS_URL   each service's base URL (the suite adds /v1/...)
    JOURNEY_MAIL_DIR            the SMTP sink's folder of .eml files (deploy/local/sinks.py)
    KAFKA_BOOTSTRAP_SERVERS     the broker; topics carry KAFKA_TOPIC_PREFIX (none by default)
    JWT_SECRET                  what the services verify tokens with (system.py signs with it)
    NOTIFICATIONS_ON_CALL_ROTA  the services' on-call rota
    DEMO_CLOCK_SPEED, DEMO_CLOCK_EPOCH   the clock the services run on

The stack is shared (a later run may follow on the same topics and databases), so the
suite starts nothing, drops nothing, and its tests keep apart by their own ids and places.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx

from shared.settings import KafkaSettings
from tests.e2e.journey.system import SERVICES, System, clock_of

READY_TIMEOUT = 120.0


def base_url_variable(service: str) -> str:
    return f"JOURNEY_{service.upper()}_URL"


class MailFolder:
    """The e-mails an SMTP sink wrote as `<stamp>-<n>.eml` files, in name order, read anew on each look.

    A file is parsed again only when its size or modification time changed, so a file caught
    half-written is read whole next time, and a folder holding every earlier run's mail stays
    cheap to poll.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._parsed: dict[str, tuple[tuple[int, int], EmailMessage]] = {}

    @property
    def messages(self) -> list[EmailMessage]:
        found: list[EmailMessage] = []
        for path in sorted(self.folder.glob("*.eml")):
            try:
                status = path.stat()
                version = (status.st_size, status.st_mtime_ns)
                known = self._parsed.get(path.name)
                if known is None or known[0] != version:
                    known = (version, _parsed(path.read_bytes()))
                    self._parsed[path.name] = known
            except FileNotFoundError:
                continue  # removed since the listing: it was not for this run
            found.append(known[1])
        return found


def _parsed(content: bytes) -> EmailMessage:
    message = message_from_bytes(content, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def external_system(environ: Mapping[str, str] = os.environ) -> System:
    """The running system the environment describes; what is missing is named all at once.

    The demo clock is required: the journeys wait for introductions and check-ins that are
    hours and days away in domain time (conftest.py).
    """
    required = [
        *(base_url_variable(s) for s in SERVICES),
        "JOURNEY_MAIL_DIR",
        "KAFKA_BOOTSTRAP_SERVERS",
        "NOTIFICATIONS_ON_CALL_ROTA",
        "DEMO_CLOCK_SPEED",
        "DEMO_CLOCK_EPOCH",
    ]
    missing = [name for name in required if not environ.get(name)]
    if missing:
        raise RuntimeError(f"JOURNEY_SYSTEM=external needs {', '.join(missing)}")
    return System(
        KafkaSettings(
            bootstrap_servers=environ["KAFKA_BOOTSTRAP_SERVERS"],
            topic_prefix=environ.get("KAFKA_TOPIC_PREFIX", ""),
        ),
        bases={s: environ[base_url_variable(s)].rstrip("/") for s in SERVICES},
        mail=MailFolder(Path(environ["JOURNEY_MAIL_DIR"])),
        rota=[r.strip() for r in environ.get("NOTIFICATIONS_ON_CALL_ROTA", "").split(",") if r.strip()],
        clock=clock_of(environ),
    )


async def wait_until_ready(system: System, timeout: float = READY_TIMEOUT) -> None:
    """Every service's `/readyz` answers 200 (the stack may still be starting, or restarting)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=5) as http:
        for service, base in system.bases.items():
            last = "no answer yet"
            while True:
                try:
                    answer = await http.get(f"{base}/readyz")
                    if answer.status_code == 200:
                        break
                    last = f"{answer.status_code} {answer.text[:200]}"
                except httpx.TransportError as error:
                    last = repr(error)
                if time.monotonic() > deadline:
                    raise AssertionError(f"{service} at {base} not ready within {timeout} s: {last}")
                await asyncio.sleep(1.0)
