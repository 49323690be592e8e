"""Start-up waits out a broker that is still creating its offsets topic, quietly and with a bound.

The rule is pure (`CoordinatorWait.pause_after`, `coordinator_not_ready`); the loop runs
here against an admin client stand-in whose answers are scripted, with no pauses at all.
The real broker's side is `tests/integration/shared/test_quiet_start.py`.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    GroupCoordinatorNotAvailableError,
    GroupLoadInProgressError,
    KafkaConnectionError,
    NotCoordinatorForGroupError,
    TopicAuthorizationFailedError,
)

from shared.messaging.topics import CoordinatorWait, coordinator_not_ready, wait_for_group_coordinator

NO_PAUSES = CoordinatorWait(timeout_seconds=30.0, first_pause_seconds=0.0, max_pause_seconds=0.0)


class ScriptedAdmin:
    """Answers `find_coordinator` with the scripted errors first, then with broker 1."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.asked: list[str] = []

    async def find_coordinator(self, group_id: str, coordinator_type: int = 0) -> int:
        self.asked.append(group_id)
        if self.errors:
            raise self.errors.pop(0)
        return 1


def log_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


@pytest.mark.parametrize(
    "error", [GroupCoordinatorNotAvailableError(), GroupLoadInProgressError(), NotCoordinatorForGroupError()]
)
def test_a_coordinator_still_being_created_or_loaded_is_waited_for(error: Exception) -> None:
    assert coordinator_not_ready(error)


@pytest.mark.parametrize(
    "error", [KafkaConnectionError(), TopicAuthorizationFailedError(), GroupAuthorizationFailedError()]
)
def test_other_kafka_errors_are_not_mistaken_for_a_loading_coordinator(error: Exception) -> None:
    assert not coordinator_not_ready(error)


def test_pauses_double_up_to_a_ceiling_and_stop_once_the_bound_would_be_passed() -> None:
    wait = CoordinatorWait(timeout_seconds=3.0, first_pause_seconds=0.1, max_pause_seconds=1.0)
    assert [wait.pause_after(attempt, waited_seconds=0.0) for attempt in range(1, 7)] == [
        0.1,
        0.2,
        0.4,
        0.8,
        1.0,
        1.0,
    ]
    assert wait.pause_after(9, waited_seconds=2.0) == 1.0
    assert wait.pause_after(9, waited_seconds=2.5) is None


async def test_start_up_asks_until_the_coordinator_answers_and_says_so_in_one_info_line(
    log_stream: io.StringIO,
) -> None:
    admin = ScriptedAdmin(*[GroupCoordinatorNotAvailableError()] * 5, GroupLoadInProgressError())

    assert await wait_for_group_coordinator(admin, NO_PAUSES, group="carepath-intake.startup-probe")

    assert admin.asked == ["carepath-intake.startup-probe"] * 7
    lines = log_lines(log_stream)
    assert [(line["level"], line["event"]) for line in lines] == [
        ("info", "waiting for kafka's group coordinator (a new broker creates its offsets topic first)")
    ]


async def test_a_coordinator_that_answers_at_once_logs_nothing(log_stream: io.StringIO) -> None:
    assert await wait_for_group_coordinator(ScriptedAdmin(), NO_PAUSES)
    assert log_lines(log_stream) == []


async def test_past_the_bound_start_up_goes_on_with_one_warning(log_stream: io.StringIO) -> None:
    admin = ScriptedAdmin(*[GroupCoordinatorNotAvailableError()] * 100)
    spent = CoordinatorWait(timeout_seconds=0.0)

    assert not await wait_for_group_coordinator(admin, spent)

    assert len(admin.asked) == 1
    (line,) = log_lines(log_stream)
    assert line["level"] == "warning"
    assert line["error_type"] == "GroupCoordinatorNotAvailableError"


async def test_an_unreachable_broker_is_left_to_the_callers_start_up_retries() -> None:
    with pytest.raises(KafkaConnectionError):
        await wait_for_group_coordinator(ScriptedAdmin(KafkaConnectionError()), NO_PAUSES)


async def test_a_principal_that_may_not_describe_the_probe_group_starts_without_waiting(
    log_stream: io.StringIO,
) -> None:
    admin = ScriptedAdmin(GroupAuthorizationFailedError())
    assert not await wait_for_group_coordinator(admin, NO_PAUSES)
    assert len(admin.asked) == 1
    assert log_lines(log_stream) == []
