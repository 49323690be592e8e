"""Consumer lag: what a group has yet to handle on a partition, and which groups a service has."""

from __future__ import annotations

import pytest

from shared.events.models import CheckInDue, MatchProposed
from shared.events.registry import spec_for
from shared.observability.lag import ConsumerLag, partition_lag
from tests.support.runtime import PlumbingTestSettings


@pytest.mark.parametrize(
    ("high_watermark", "committed", "log_start", "lag"),
    [
        pytest.param(10, 10, 0, 0, id="caught-up"),
        pytest.param(10, 7, 0, 3, id="three-behind"),
        pytest.param(10, None, 0, 10, id="never-committed-starts-from-the-earliest"),
        pytest.param(10, -1, 4, 6, id="kafkas-no-offset-counts-from-the-log-start"),
        pytest.param(10, 2, 4, 6, id="records-before-the-log-start-are-gone-not-owed"),
        pytest.param(10, 11, 0, 0, id="a-commit-read-after-the-watermark-is-never-negative"),
        pytest.param(0, None, 0, 0, id="empty-partition"),
    ],
)
def test_lag_is_the_watermark_minus_where_the_group_would_resume(
    high_watermark: int, committed: int | None, log_start: int, lag: int
) -> None:
    assert partition_lag(high_watermark, committed, log_start) == lag


def test_a_service_watches_one_group_per_consumed_topic_as_subscribe_names_them() -> None:
    settings = PlumbingTestSettings(kafka={"topic_prefix": "t1-"})
    lag = ConsumerLag.of_service(settings, [spec_for(CheckInDue), spec_for(MatchProposed)])

    assert lag.groups == {
        "t1-carepath-plumbing-test.check-in-due": "t1-check-in-due",
        "t1-carepath-plumbing-test.match-proposed": "t1-match-proposed",
    }


async def test_a_service_that_consumes_nothing_polls_nothing() -> None:
    lag = ConsumerLag.of_service(PlumbingTestSettings(), [])
    await lag.run()  # returns at once: no Kafka client is made
    assert lag.groups == {}
