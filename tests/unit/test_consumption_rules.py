"""Pure rules of the consume pipeline: retry backoff and dead-letter reasons without PHI."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.events.models import CheckInDue
from shared.messaging.consumption import RetryPolicy, describe_validation_error


def test_backoff_doubles_per_attempt_with_jitter_and_stops_at_the_cap() -> None:
    policy = RetryPolicy(max_attempts=6, initial_backoff_seconds=0.5, max_backoff_seconds=3.0)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (5, 3.0)]:
        delays = [policy.backoff(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempt


def test_dead_letter_reason_names_fields_but_never_their_values() -> None:
    with pytest.raises(ValidationError) as error:
        CheckInDue.model_validate({"check_in_id": "ci-1", "client_id": "jane@example.com", "instruments": []})
    reason = describe_validation_error(error.value)
    assert "client_id: String should match pattern" in reason
    assert "therapist_id: Field required" in reason
    assert "jane@example.com" not in reason
