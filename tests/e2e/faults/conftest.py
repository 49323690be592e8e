"""Fixtures of the fault-injection suite: the system's parts a scenario needs, and clean-up.

Each scenario module starts its own system (its own topic prefix, databases and SMTP
sink), because faults disturb it; separate modules run in parallel under xdist.

The scenarios run when `CAREPATH_FAULTS=1` is set (`make test-faults`, which `.ci/run` runs
after `make test`). On a quiet 2-core machine the two modules side by side take about 5½
minutes; the services settle about a minute after the last intake.
`CAREPATH_FAULT_INTAKES` (default 200), `CAREPATH_FAULT_RATE` (intakes per second, default
1) and `CAREPATH_FAULT_SETTLE_SECONDS` (default 600) tune a run.
"""

from __future__ import annotations

import os

import httpx
import pytest

from shared.events.registry import EVENTS
from tests.e2e.faults.load import Balancer
from tests.e2e.journey.system import SERVICE, Recorder, System

MINIMUM = int(os.environ.get("CAREPATH_FAULT_INTAKES", "200"))
RATE = float(os.environ.get("CAREPATH_FAULT_RATE", "1.0"))
SETTLE_SECONDS = float(os.environ.get("CAREPATH_FAULT_SETTLE_SECONDS", "600"))
ENABLED = os.environ.get("CAREPATH_FAULTS") == "1"
OPT_IN = pytest.mark.skipif(
    not ENABLED,
    reason="fault-injection scenarios run with CAREPATH_FAULTS=1 (minutes each; see faults/conftest.py)",
)

AUTO_ASSIGN = {"SCHEDULING_BOOKING_POLICY": "book_at_once"}
"""The load books each client at once (the opt-in auto-assignment of platforms that assign a
therapist): the scenarios count bookings and their e-mails under faults, not the clients'
choices, and auto-assignment grants no record access before a client accepts."""

# Every event topic and its dead-letter topic: the scenarios count effects and dead letters.
RECORDED = [spec.name for spec in EVENTS] + [f"{spec.name}.dlq" for spec in EVENTS]


async def record_and_register(system: System) -> None:
    """Start the background recorder and register the on-call rota as recipients."""
    recorder = Recorder(system.kafka, RECORDED)
    await recorder.start()
    system.recorder = recorder
    async with httpx.AsyncClient(timeout=30, transport=Balancer(system)) as http:
        for on_call in system.rota:
            answer = await http.put(
                system.url("notifications", f"/recipients/{on_call}"),
                json={"role": "on_call", "email": f"{on_call}@journey.example", "timezone": "UTC"},
                headers=SERVICE,
            )
            assert answer.status_code == 200, answer.text
