"""Check-ins on the fakes: created once per due event, answered once or missed; change and review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.intake.commands.answer_check_in import AnswerCheckIn, answer_check_in
from services.intake.commands.expire_check_in import ExpireCheckIn, expire_check_in
from services.intake.commands.write_treatment_plan import (
    TreatmentPlanInput,
    WriteTreatmentPlan,
    write_treatment_plan,
)
from services.intake.context import IntakeContext
from services.intake.domain.check_ins import (
    CheckInAnswers,
    CheckInStatus,
    EarlierCheckIn,
    consecutive_missed,
    expires,
    takes_answer,
)
from services.intake.handlers.on_check_in_due import on_check_in_due
from services.intake.handlers.on_check_in_expiry_timer import on_check_in_expiry_timer
from services.intake.timers import CHECK_IN_EXPIRY
from shared.events.envelope import OutgoingEvent, new_event
from shared.events.models import CheckInCompleted, CheckInDue, CheckInMissed, RiskFlagged
from shared.messaging.subscriptions import Handler
from shared.refusals import Conflict, Invalid
from shared.storage import Document
from shared.storage.timers import Timer
from tests.support.fakes import InMemoryDocuments, InMemoryTimers, ManualClock
from tests.unit.intake import samples

CALM_GAD7 = [1, 1, 1, 1, 1, 0, 0]  # 5, from a baseline of 14: reliably better
DUE_AT = datetime(2026, 3, 16, 9, tzinfo=UTC)
EXPIRY = samples.EXPIRY


def opened(ctx: IntakeContext) -> Handler:
    """The check-in-due handler; the expiry timers it schedules are kept in `ctx.timers`."""
    return on_check_in_due(ctx)


def due(check_in_id: str = "ci-1", client_id: str = "client-1", **kwargs: Any) -> OutgoingEvent:
    data = CheckInDue(
        check_in_id=check_in_id,
        client_id=client_id,
        therapist_id="therapist-1",
        due_at=DUE_AT,
        instruments=["phq9", "gad7"],
    )
    return new_event(data, source="scheduling", correlation_id="journey-from-scheduling", **kwargs)


async def submitted_intake(ctx: IntakeContext, **overrides: Any) -> str:
    return str((await samples.submitted(ctx, **overrides))["_id"])


async def with_plan(ctx: IntakeContext) -> None:
    plan = TreatmentPlanInput.model_validate(
        {
            "approach": "cbt",
            "goals": [
                {
                    "code": "reduce_panic",
                    "target": {"measure": "goal_progress", "comparison": "at_least", "value": 8},
                },
                {"code": "calmer", "target": {"measure": "gad7", "comparison": "below", "value": 8}},
            ],
        }
    )
    command = WriteTreatmentPlan(
        client_id="client-1", plan=plan, therapist_id="therapist-1", written_by={}, now=ctx.clock()
    )
    await write_treatment_plan(command, ctx)


async def respond(ctx: IntakeContext, check_in_id: str, given: CheckInAnswers) -> Document:
    return await answer_check_in(AnswerCheckIn(check_in_id=check_in_id, answers=given, now=ctx.clock()), ctx)


def answers(phq9: list[int] | None = None, gad7: list[int] | None = None, **more: Any) -> CheckInAnswers:
    return CheckInAnswers.model_validate(
        {"phq9": phq9 or [1, 1, 1, 1, 1, 1, 1, 1, 0], "gad7": gad7 or [2] * 7, **more}
    )


def check_in_events(ctx: IntakeContext) -> list[OutgoingEvent]:
    assert isinstance(ctx.check_ins, InMemoryDocuments)
    return ctx.check_ins.events


async def test_check_in_due_creates_one_pending_check_in_listed_on_the_record() -> None:
    ctx = samples.context()
    handle = opened(ctx)
    event = due()
    await handle(event.data, event.envelope)
    check_in = await ctx.check_ins.get("ci-1")
    assert check_in is not None and check_in["status"] == "pending"
    record = await ctx.clients.get("client-1")
    assert record is not None and record["check_in_ids"] == ["ci-1"]


async def test_a_redelivered_check_in_due_creates_nothing_more() -> None:
    ctx = samples.context()
    handle = opened(ctx)
    event = due()
    await handle(event.data, event.envelope)
    await handle(event.data, event.envelope)
    again = due()  # the same check-in under a new event id (scheduling fired it again)
    await handle(again.data, again.envelope)
    assert isinstance(ctx.check_ins, InMemoryDocuments)
    assert list(ctx.check_ins.documents) == ["ci-1"]
    record = await ctx.clients.get("client-1")
    assert record is not None and record["check_in_ids"] == ["ci-1"]


async def test_a_check_in_id_of_another_client_can_never_succeed() -> None:
    ctx = samples.context()
    handle = opened(ctx)
    first, other = due(), due(client_id="client-2")
    await handle(first.data, first.envelope)
    with pytest.raises(Conflict):  # the pipeline dead-letters a refusal at once
        await handle(other.data, other.envelope)


async def test_an_answered_check_in_publishes_its_change_against_the_intake_baseline() -> None:
    ctx = samples.context()
    intake_id = await submitted_intake(ctx)  # PHQ-9 8, GAD-7 14
    await with_plan(ctx)
    event = due()
    await opened(ctx)(event.data, event.envelope)
    progress = [{"goal": "reduce_panic", "score": 8}, {"goal": "calmer", "score": 5}]
    done = await respond(ctx, "ci-1", answers(gad7=CALM_GAD7, goal_progress=progress, note="Slept better"))

    (completed,) = check_in_events(ctx)
    assert isinstance(completed.data, CheckInCompleted)
    change = completed.data.change
    assert (change.phq9_delta, change.gad7_delta) == (0, -9)
    assert change.reliable_improvement and not change.reliable_deterioration
    assert change.recovery  # GAD-7 14 was a case; now PHQ-9 8 and GAD-7 5 are below both
    assert completed.data.goals_reached == ["reduce_panic", "calmer"]
    assert completed.data.review_reasons == ["goal_target_reached"]
    assert completed.data.plan_review_suggested
    assert completed.envelope.correlation_id == intake_id  # the client's journey
    assert completed.envelope.causation_id == event.envelope.id
    assert done["result"]["change"]["gad7_delta"] == -9
    assert "Slept better" not in repr(done)


async def test_a_check_in_answered_twice_publishes_once() -> None:
    ctx = samples.context()
    await submitted_intake(ctx)
    event = due()
    await opened(ctx)(event.data, event.envelope)
    first = await respond(ctx, "ci-1", answers())
    second = await respond(ctx, "ci-1", answers(phq9=[3] * 9))
    assert second["result"] == first["result"]
    assert len(check_in_events(ctx)) == 1


async def test_a_positive_re_screen_flags_risk_first_with_the_check_in_id() -> None:
    ctx = samples.context()
    await submitted_intake(ctx)
    event = due()
    await opened(ctx)(event.data, event.envelope)
    risky = CheckInAnswers.model_validate({**samples.HIGH_RISK, "gad7": [2] * 7})
    await respond(ctx, "ci-1", risky)
    flagged, completed = check_in_events(ctx)
    assert isinstance(flagged.data, RiskFlagged)
    assert (flagged.data.check_in_id, flagged.data.risk_level) == ("ci-1", "high")
    assert isinstance(completed.data, CheckInCompleted)
    assert completed.data.change.reliable_deterioration
    assert completed.data.review_reasons == ["reliable_deterioration", "elevated_risk"]


async def test_three_check_ins_without_reliable_improvement_suggest_a_review() -> None:
    clock = ManualClock()
    ctx = samples.context(clock=clock)
    await submitted_intake(ctx)
    handle = opened(ctx)
    for number in (1, 2, 3):
        event = due(f"ci-{number}")
        await handle(event.data, event.envelope)
        clock.advance(timedelta(days=14))
        await respond(ctx, f"ci-{number}", answers())
    reasons = [e.data.review_reasons for e in check_in_events(ctx) if isinstance(e.data, CheckInCompleted)]
    assert reasons == [[], [], ["no_reliable_improvement"]]


async def test_answers_must_rate_every_plan_goal_and_the_screener_when_item9_is_positive() -> None:
    ctx = samples.context()
    await submitted_intake(ctx)
    await with_plan(ctx)
    event = due()
    await opened(ctx)(event.data, event.envelope)
    bad = answers(phq9=[0] * 8 + [1], goal_progress=[{"goal": "unknown", "score": 3}])
    with pytest.raises(Invalid) as refused:
        await respond(ctx, "ci-1", bad)
    assert [e.field for e in refused.value.errors] == [
        "body.cssrs",
        "body.goal_progress.0.goal",
        "body.goal_progress",
    ]
    pending = await ctx.check_ins.get("ci-1")
    assert pending is not None and pending["status"] == "pending"
    assert check_in_events(ctx) == []


async def test_a_check_in_without_a_submitted_intake_has_no_baseline() -> None:
    ctx = samples.context()
    event = due()
    await opened(ctx)(event.data, event.envelope)
    with pytest.raises(Conflict):
        await respond(ctx, "ci-1", answers())


@pytest.mark.parametrize(
    ("status", "answered", "expired"),
    [("pending", True, True), ("completed", False, False), ("missed", None, False)],
)
def test_only_a_pending_check_in_changes_and_a_missed_one_refuses_an_answer(
    status: CheckInStatus, answered: bool | None, expired: bool
) -> None:
    if answered is None:
        with pytest.raises(Conflict) as refused:
            takes_answer(status)
        assert refused.value.code == "check_in_missed"
    else:
        assert takes_answer(status) is answered
    assert expires(status) is expired


# ---------------------------------------------------------------------- expiry as missed


async def expire(ctx: IntakeContext, check_in_id: str) -> Document | None:
    command = ExpireCheckIn(check_in_id=check_in_id, event_id=f"timer-event-{check_in_id}", now=ctx.clock())
    return await expire_check_in(command, ctx)


def missed_events(ctx: IntakeContext) -> list[CheckInMissed]:
    return [e.data for e in check_in_events(ctx) if isinstance(e.data, CheckInMissed)]


async def test_check_in_due_schedules_its_expiry_once_a_week_after_it_fell_due() -> None:
    clock, timers = ManualClock(), InMemoryTimers()
    ctx = samples.context(clock=clock, timers=timers)
    event = due()
    await opened(ctx)(event.data, event.envelope)
    await opened(ctx)(event.data, event.envelope)  # redelivered
    assert list(timers.pending()) == ["check-in-expiry:ci-1"]
    timer = timers.pending()["check-in-expiry:ci-1"]
    assert (timer.kind, timer.payload) == (CHECK_IN_EXPIRY, {"check_in_id": "ci-1"})
    assert timer.due_at == DUE_AT + timedelta(days=7)


async def test_an_unanswered_check_in_expires_as_missed_with_its_event_in_the_same_write() -> None:
    clock = ManualClock()
    ctx = samples.context(clock=clock)
    intake_id = await submitted_intake(ctx)
    event = due()
    await opened(ctx)(event.data, event.envelope)
    clock.advance(timedelta(days=21))
    missed = await expire(ctx, "ci-1")
    assert missed is not None and (missed["status"], missed["missed_at"]) == ("missed", clock())
    (published,) = check_in_events(ctx)
    assert isinstance(published.data, CheckInMissed)
    assert published.envelope.id == "timer-event-ci-1"  # the timer's deterministic id
    assert published.envelope.correlation_id == intake_id
    assert published.envelope.causation_id == event.envelope.id
    assert (published.data.therapist_id, published.data.consecutive_missed) == ("therapist-1", 1)
    again = await expire(ctx, "ci-1")  # fired again (another replica, a restart)
    assert again == missed and len(check_in_events(ctx)) == 1


async def test_an_answered_check_in_does_not_expire() -> None:
    clock = ManualClock()
    ctx = samples.context(clock=clock)
    await submitted_intake(ctx)
    event = due()
    await opened(ctx)(event.data, event.envelope)
    await respond(ctx, "ci-1", answers())
    clock.advance(timedelta(days=8))
    still = await expire(ctx, "ci-1")
    assert still is not None and still["status"] == "completed"
    assert missed_events(ctx) == []


async def test_a_missed_check_in_can_no_longer_be_answered() -> None:
    ctx = samples.context()
    await submitted_intake(ctx)
    event = due()
    await opened(ctx)(event.data, event.envelope)
    await expire(ctx, "ci-1")
    with pytest.raises(Conflict) as refused:
        await respond(ctx, "ci-1", answers())
    assert refused.value.code == "check_in_missed"
    assert [type(e.data) for e in check_in_events(ctx)] == [CheckInMissed]


async def test_misses_in_a_row_are_counted_and_an_answer_resets_the_count() -> None:
    clock = ManualClock()
    ctx = samples.context(clock=clock)
    await submitted_intake(ctx)
    handle = opened(ctx)
    for number, answered in ((1, False), (2, False), (3, True), (4, False), (5, False), (6, False)):
        event = due(f"ci-{number}")
        await handle(event.data, event.envelope)
        clock.advance(timedelta(days=14))
        if answered:
            await respond(ctx, f"ci-{number}", answers())
        else:
            await expire(ctx, f"ci-{number}")
    assert [(m.check_in_id, m.consecutive_missed) for m in missed_events(ctx)] == [
        ("ci-1", 1),
        ("ci-2", 2),
        ("ci-4", 1),
        ("ci-5", 2),
        ("ci-6", 3),
    ]


def test_an_earlier_check_in_past_its_own_deadline_counts_as_missed_though_not_yet_written() -> None:
    now = datetime(2026, 4, 1, tzinfo=UTC)
    lapsed = EarlierCheckIn(status="pending", due_at=now - timedelta(days=8))
    open_still = EarlierCheckIn(status="pending", due_at=now - timedelta(days=2))
    missed = EarlierCheckIn(status="missed", due_at=now - timedelta(days=30))
    answered = EarlierCheckIn(status="completed", due_at=now - timedelta(days=40))
    assert consecutive_missed([lapsed, missed, answered, missed], expiry=EXPIRY, now=now) == 3
    assert consecutive_missed([open_still, missed], expiry=EXPIRY, now=now) == 1
    assert consecutive_missed([], expiry=EXPIRY, now=now) == 1


async def test_the_expiry_timer_fires_with_an_event_id_derived_from_the_timer() -> None:
    ctx = samples.context()
    event = due()
    await opened(ctx)(event.data, event.envelope)
    timer = Timer(
        id="check-in-expiry:ci-1",
        kind=CHECK_IN_EXPIRY,
        due_at=DUE_AT + EXPIRY,
        attempts=1,
        payload={"check_in_id": "ci-1"},
    )
    fire = on_check_in_expiry_timer(ctx)
    assert await fire(timer) == []  # published through the check-in's own outbox
    (published,) = check_in_events(ctx)
    assert published.envelope.id == timer.event_id("check-in-missed")


async def test_a_high_risk_check_in_flags_risk_where_the_client_lives() -> None:
    ctx = samples.context()
    await submitted_intake(ctx, jurisdiction="ES-MD", languages=["es", "en"])
    event = due()
    await opened(ctx)(event.data, event.envelope)
    risky = CheckInAnswers.model_validate({**samples.HIGH_RISK, "gad7": [2] * 7})
    await respond(ctx, "ci-1", risky)
    flagged = check_in_events(ctx)[0].data
    assert isinstance(flagged, RiskFlagged)
    assert (flagged.jurisdiction, flagged.language) == ("ES-MD", "es")
