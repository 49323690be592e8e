"""Notifications' e-mail benchmark: CPU seconds of the sending process per e-mail, rendered and sent.

A local SMTP server (aiosmtpd answering 250 to everything, keeping nothing) runs in a
child process, so what is measured is the service's side alone: `--emails` session
reminders (an .ics attached, as a booking sends) rendered with the service's `Renderer`
and sent through its `SmtpSender`, `--concurrency` at a time, as the notifications
service sends them. Reports the process CPU time (every thread: a DNS look-up on a worker
thread counts) per e-mail for rendering, for sending, and in all, with the wall time.

    python -m tests.bench.email_cpu [--emails 200] [--concurrency 4] [--json path]

No Kafka or MongoDB: the rest of a delivery (its records) is measured by the journey bench.
Not part of `make bench` (tests/bench/suite.py).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import multiprocessing
import sys
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from services.notifications.channels import Attachment, Outbound
from services.notifications.channels.smtp import SmtpConfig, SmtpSender
from services.notifications.domain.messages import Audience, MessageKind, session_context
from services.notifications.rendering import Renderer
from services.notifications.settings import NotificationsSettings
from tests.support.infrastructure import free_port

ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Carepath//Sessions//EN\r\nMETHOD:PUBLISH\r\n"
    b"BEGIN:VEVENT\r\nUID:session-1@carepath.local\r\nDTSTAMP:20260101T090000Z\r\n"
    b"DTSTART:20260102T150000Z\r\nDTEND:20260102T155000Z\r\nSUMMARY:Session\r\nEND:VEVENT\r\n"
    b"END:VCALENDAR\r\n"
)


class _Accepting:
    """An aiosmtpd handler that accepts every message and keeps none (the sink costs no CPU here)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def _serve(port: int, ready: Event, stop: Event) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(_Accepting(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def _context(number: int) -> dict[str, Any]:
    start = datetime(2026, 1, 2, 15, tzinfo=UTC) + timedelta(minutes=number)
    context = session_context(
        session_id=f"session-{number}",
        client_id="client-1",
        starts_at=start,
        ends_at=start + timedelta(minutes=50),
        session_format="video",
        kind="therapy",
        join_url=f"https://meet.carepath.local/s/session-{number}",
        sequence=2,
        timezone="America/New_York",
    )
    return {**context, "lead": "24h"}


async def _measure(port: int, emails: int, concurrency: int) -> dict[str, float]:
    settings = NotificationsSettings(smtp_host="127.0.0.1", smtp_port=port)
    sender = SmtpSender(SmtpConfig.from_settings(settings))
    renderer = Renderer(app_url=settings.app_base_url)
    slots = asyncio.Semaphore(concurrency)
    render_cpu = 0.0

    async def one(number: int) -> None:
        nonlocal render_cpu
        async with slots:
            began = time.process_time()
            message = renderer.render(
                MessageKind.session_reminder,
                Audience.client,
                context=_context(number),
                locale="en",
                zone="America/New_York",
                channel="email",
            )
            render_cpu += time.process_time() - began
            await sender.send(
                Outbound(
                    delivery_id=f"bench-{number}:client-1:email",
                    notification_id=f"bench-{number}:client-1:email",
                    recipient_id="client-1",
                    channel="email",
                    address=f"client-{number}@example.org",
                    kind=MessageKind.session_reminder.value,
                    critical=False,
                    message=message,
                    attachments=(Attachment("session.ics", "text/calendar; method=PUBLISH", ICS),),
                )
            )

    await one(-1)  # warm up: templates compiled, the first connection's look-ups done
    cpu, wall = time.process_time(), time.perf_counter()
    render_cpu = 0.0
    await asyncio.gather(*(one(number) for number in range(emails)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    close = getattr(sender, "close", None)
    if close is not None and inspect.iscoroutinefunction(close):
        await close()
    return {
        "emails": emails,
        "concurrency": concurrency,
        "cpu_ms_per_email": round(cpu / emails * 1000, 3),
        "render_cpu_ms_per_email": round(render_cpu / emails * 1000, 3),
        "send_cpu_ms_per_email": round((cpu - render_cpu) / emails * 1000, 3),
        "wall_seconds": round(wall, 3),
    }


def run(emails: int = 200, concurrency: int = 4) -> dict[str, float]:
    port = free_port()
    spawn = multiprocessing.get_context("spawn")
    ready, stop = spawn.Event(), spawn.Event()
    server = spawn.Process(target=_serve, args=(port, ready, stop), daemon=True)
    server.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the SMTP server did not start")
        return asyncio.run(_measure(port, emails, concurrency))
    finally:
        stop.set()
        server.join(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--emails", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    figures = run(args.emails, args.concurrency)
    for name, value in figures.items():
        print(f"{name:<26} {value}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
