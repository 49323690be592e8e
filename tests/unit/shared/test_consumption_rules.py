"""Pure rules of the consume pipeline: backoff, outage or failure, dead-letter reasons without PHI."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from pymongo.errors import (
    AutoReconnect,
    DuplicateKeyError,
    NetworkTimeout,
    NotPrimaryError,
    ServerSelectionTimeoutError,
)

from shared.events.models import CheckInDue
from shared.events.records import describe_validation_error
from shared.messaging.consumption import (
    InfrastructureError,
    PermanentError,
    ReliableConsumption,
    RetryPolicy,
    ShuttingDown,
    is_infrastructure_failure,
)
from shared.storage.locks import LockTimeout


def test_backoff_doubles_per_attempt_with_jitter_and_stops_at_the_cap() -> None:
    policy = RetryPolicy(max_attempts=6, initial_backoff_seconds=0.5, max_backoff_seconds=3.0)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (5, 3.0)]:
        delays = [policy.backoff(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempt


def test_dead_letter_reason_names_fields_but_never_their_values() -> None:
    with pytest.raises(ValidationError) as error:
        CheckInDue.model_validate({"check_in_id": "ci-1", "client_id": "jane@example.com", "instruments": []})
    reason = describe_validation_error(error.value)
    assert reason == "ValidationError: client_id, therapist_id, due_at, instruments"
    assert "jane@example.com" not in reason


@pytest.mark.parametrize(
    "error",
    [
        ServerSelectionTimeoutError("no server"),
        AutoReconnect("connection reset"),
        NetworkTimeout("timed out"),
        NotPrimaryError("not primary"),
        LockTimeout("intakes/i-1"),
        InfrastructureError("smtp relay unreachable"),
    ],
)
def test_unreachable_or_busy_infrastructure_is_told_apart_from_a_failing_handler(error: Exception) -> None:
    assert is_infrastructure_failure(error)


@pytest.mark.parametrize(
    "error", [ValueError("bad"), KeyError("x"), PermanentError("no"), DuplicateKeyError("dup")]
)
def test_handler_and_data_errors_are_not_infrastructure_failures(error: Exception) -> None:
    assert not is_infrastructure_failure(error)


def pipeline(sleeps: list[float]) -> ReliableConsumption:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return ReliableConsumption(
        consumer="c",
        specs_by_topic={},
        inbox=None,  # type: ignore[arg-type]
        dead_letters=None,  # type: ignore[arg-type]
        retry=RetryPolicy(max_attempts=2, initial_backoff_seconds=0.1, max_backoff_seconds=1.0),
        sleep=sleep,
    )


async def test_an_outage_is_waited_out_beyond_the_handler_bound_with_capped_backoff() -> None:
    sleeps: list[float] = []
    consumption = pipeline(sleeps)
    failures = iter([AutoReconnect("down")] * 8)
    stalled_seen: list[bool] = []

    async def step() -> str:
        stalled_seen.append(consumption.stalled)
        if (failure := next(failures, None)) is not None:
            raise failure
        return "done"

    assert await consumption.through_outage(step, what="handler") == "done"
    assert len(sleeps) == 8 and max(sleeps) <= 1.0  # far past max_attempts=2, never past the cap
    assert stalled_seen[1:] == [True] * 8 and not consumption.stalled


async def test_a_stopping_service_gives_a_record_back_instead_of_waiting_out_an_outage() -> None:
    consumption = pipeline([])
    consumption.stop()

    async def step() -> None:
        raise ServerSelectionTimeoutError("down")

    with pytest.raises(ShuttingDown):
        await consumption.through_outage(step, what="inbox check")
    assert not consumption.stalled


async def test_a_handler_failure_is_not_retried_as_an_outage() -> None:
    sleeps: list[float] = []

    async def step() -> None:
        raise ValueError("bug")

    with pytest.raises(ValueError):
        await pipeline(sleeps).through_outage(step, what="handler")
    assert sleeps == []
