"""The care record's document form reads back as the very record that was written."""

from __future__ import annotations

from services.scheduling.context import SchedulingContext
from services.scheduling.domain.care import Attendance
from services.scheduling.store.care_documents import care_from_document, care_to_document
from tests.support.fakes import ManualClock
from tests.unit.scheduling.conftest import weekdays
from tests.unit.scheduling.support import (
    attend,
    available,
    care,
    fire_due,
    follow,
    introduced,
    plan,
    propose,
)


async def test_a_care_record_with_every_part_reads_back_the_same(
    ctx: SchedulingContext, clock: ManualClock
) -> None:
    await available(ctx, "t-1", weekdays())
    await introduced(ctx, clock)
    await follow(ctx, plan("c-1", version=1, now=clock.now))
    await fire_due(ctx, clock.now)
    await propose(ctx, "c-1", ["t-2"], match_id="match-2")
    [therapy, *_] = (await care(ctx, "c-1")).upcoming(clock.now)
    await attend(ctx, clock, therapy, Attendance.no_show)

    record = await care(ctx, "c-1")
    assert record.series is not None and record.plan is not None and record.check_ins is not None
    assert len(record.proposals) == 2 and any(s.attendance for s in record.sessions)

    assert care_from_document(care_to_document(record)) == record
