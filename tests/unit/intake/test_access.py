"""Who may see and change a client's record: the care relationship decides, every refusal is audited."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from services.intake.__main__ import main
from services.intake.api.access import (
    Allowed,
    allowed_for,
    client_record_for,
    ensure_allowed,
    ensure_plan_author,
    ensure_visible,
)
from services.intake.api.audit import AuditedChange
from services.intake.commands.follow_care import FollowCare, follow_care
from services.intake.context import IntakeContext
from services.intake.domain.break_glass import grant
from services.intake.domain.care import may_move_care, plan_author
from services.intake.domain.client_record import BreakGlassGrant
from services.intake.settings import IntakeSettings
from services.intake.store.client_records import client_record, record_break_glass
from shared.care.relationship import Access, CareRelationships, CareState
from shared.events.envelope import new_event
from shared.http.auth import Principal, Role
from shared.http.problems import Problem, refusal_problem
from shared.refusals import Conflict, Invalid, NotAllowed, NotFound
from tests.support.fakes import InMemoryDocuments, ManualClock, RecordingAudit
from tests.unit.intake import samples

CLIENT, THERAPIST, OTHER = "client-1", "therapist-1", "therapist-2"
NOW = ManualClock()()
INTAKE = {"_id": "intake-1", "client_id": CLIENT}


async def related(*events: BaseModel) -> IntakeContext:
    """A context whose client record folded `events`, a minute apart, as the handlers do."""
    ctx = samples.context()
    for minutes, data in enumerate(events):
        envelope = new_event(data, source="tests", now=NOW - timedelta(hours=1) + timedelta(minutes=minutes))
        await follow_care(FollowCare(CLIENT, data, envelope.envelope), ctx)
    return ctx


def audit_of(who: Principal) -> tuple[AuditedChange, RecordingAudit]:
    trail = RecordingAudit()
    return AuditedChange(who=who, correlation_id="journey-1", log=trail), trail


def clinician(subject: str = THERAPIST) -> Principal:
    return Principal(subject, Role.clinician)


PROPOSED = (samples.proposed(CLIENT, THERAPIST, OTHER, expires_at=NOW + timedelta(days=1)),)
CHOSEN = (*PROPOSED, samples.accepted(CLIENT, THERAPIST, at=NOW))
CHOSEN_BY_BOOKING = (*PROPOSED, samples.booked(CLIENT, THERAPIST, by="client"))
IN_CARE = (*CHOSEN, samples.attended(CLIENT, THERAPIST, "held"))
NO_SHOW = (*CHOSEN, samples.attended(CLIENT, THERAPIST, "no_show"))
SWITCHED = (*IN_CARE, samples.proposed(CLIENT, OTHER, match_id="match-2"), samples.accepted(CLIENT, OTHER))
DECLINED = (*CHOSEN, samples.declined(CLIENT, THERAPIST))
BOOKED_AT_ONCE = (*PROPOSED, samples.booked(CLIENT, THERAPIST, by="system"))
EXPIRED = (samples.proposed(CLIENT, THERAPIST, expires_at=NOW - timedelta(minutes=1)),)


@pytest.mark.parametrize(
    ("events", "referral", "record", "basis"),
    [
        pytest.param(PROPOSED, True, False, "proposed", id="proposed"),
        pytest.param(CHOSEN, True, True, "chosen", id="chosen-by-accept"),
        pytest.param(CHOSEN_BY_BOOKING, True, True, "chosen", id="chosen-by-booking"),
        pytest.param(IN_CARE, True, True, "in_care", id="in-care"),
        pytest.param(NO_SHOW, True, True, "chosen", id="no-show-stays-chosen"),
        pytest.param(SWITCHED, False, False, "ended", id="switched-away"),
        pytest.param(DECLINED, False, False, "ended", id="declined"),
        pytest.param(BOOKED_AT_ONCE, True, False, "proposed", id="booked-at-once-grants-nothing"),
        pytest.param(EXPIRED, False, False, "withdrawn", id="proposal-expired"),
        pytest.param((), False, False, "no_relationship", id="stranger"),
    ],
)
async def test_a_therapist_sees_what_their_care_relationship_allows_and_refusals_are_audited(
    events: tuple[BaseModel, ...], referral: bool, record: bool, basis: str
) -> None:
    ctx = await related(*events)
    for needed, allowed in ((Access.referral, referral), (Access.record, record)):
        audit, trail = audit_of(clinician())
        if allowed:
            granted = await client_record_for(audit, CLIENT, ctx, resource="check_ins", needed=needed)
            assert granted.basis == basis and trail.records == []
        else:
            with pytest.raises(NotFound) as refused:
                await client_record_for(audit, CLIENT, ctx, resource="check_ins", needed=needed)
            assert refusal_problem(refused.value).status == 404  # as if the client did not exist
            (entry,) = trail.records
            assert (entry["action"], entry["basis"], entry["actor"]) == ("refused", basis, THERAPIST)
            assert entry["client_id"] == CLIENT


@pytest.mark.parametrize(
    ("who", "basis"),
    [
        (Principal(CLIENT, Role.client), "own_record"),
        (Principal("ops", Role.admin), "admin"),
        (Principal("scheduling", Role.service, frozenset({"intake:read"})), "service"),
    ],
)
async def test_the_client_and_privileged_callers_see_the_record_whatever_the_relationships(
    who: Principal, basis: str
) -> None:
    audit, _ = audit_of(who)
    granted = await ensure_visible(
        audit, dict(INTAKE), await related(), resource="intake", resource_id="intake-1"
    )
    assert granted.basis == basis


async def test_another_client_gets_404_on_a_record_addressed_by_id_or_by_client() -> None:
    audit, trail = audit_of(Principal("client-2", Role.client))
    with pytest.raises(NotFound) as by_id:
        await ensure_visible(audit, dict(INTAKE), samples.context(), resource="intake", resource_id="i")
    with pytest.raises(NotFound) as by_client:
        await client_record_for(audit, CLIENT, samples.context(), resource="client_intakes")
    assert refusal_problem(by_id.value).status == refusal_problem(by_client.value).status == 404
    assert [e["basis"] for e in trail.records] == ["not_own_record", "not_own_record"]


async def test_a_missing_record_is_not_found_even_for_an_admin() -> None:
    audit, _ = audit_of(Principal("ops", Role.admin))
    with pytest.raises(NotFound) as missing:
        await ensure_visible(audit, None, samples.context(), resource="intake", resource_id="x")
    assert refusal_problem(missing.value).status == 404


# ---------------------------------------------------------------------- the decision alone


class CountedReads(InMemoryDocuments):
    """The clients' records, counting the reads of them."""

    def __init__(self, name: str = "clients") -> None:
        super().__init__(name)
        self.reads = 0

    async def get(self, document_id: str, *, writing: bool = False) -> dict[str, Any] | None:
        self.reads += 1
        return await super().get(document_id, writing=writing)


async def counted(
    *events: BaseModel, break_glass_for: str | None = None
) -> tuple[IntakeContext, CountedReads]:
    """`related(*events)`, its records read through `CountedReads` (and a break-glass grant given)."""
    ctx = await related(*events)
    clients = CountedReads()
    clients.documents = ctx.clients.documents  # type: ignore[attr-defined]
    if break_glass_for is not None:
        given = BreakGlassGrant(grant(break_glass_for, now=NOW, lasts=timedelta(hours=1)), "risk_alert_page")
        await clients.upsert(CLIENT, record_break_glass(CLIENT, given, NOW))
    return dataclasses.replace(ctx, clients=clients), clients


CALLERS = [
    Principal(CLIENT, Role.client),
    Principal("client-2", Role.client),
    Principal("ops", Role.admin),
    Principal("scheduling", Role.service, frozenset({"intake:read", "intake:write"})),
    Principal("reporting", Role.service),
    clinician(),
    clinician(OTHER),
]


async def outcome(decided: Any, trail: RecordingAudit) -> tuple[Any, ...]:
    """What a decision answered: the basis allowed, or the refusal and its audit entries."""
    try:
        allowed: Allowed = await decided
    except (NotFound, NotAllowed) as refused:
        return (type(refused).__name__, refusal_problem(refused).status, trail.records)
    except Problem as refused:  # a service without the scope: 403 naming it
        return ("Problem", refused.status, str(refused), trail.records)
    return ("allowed", allowed.client_id, allowed.basis, trail.records)


@pytest.mark.parametrize("who", CALLERS, ids=lambda who: f"{who.role.value}-{who.subject}")
@pytest.mark.parametrize(
    ("events", "glass"),
    [
        pytest.param((), None, id="stranger"),
        pytest.param(PROPOSED, None, id="proposed"),
        pytest.param(CHOSEN, None, id="chosen"),
        pytest.param(IN_CARE, None, id="in-care"),
        pytest.param(SWITCHED, None, id="switched-away"),
        pytest.param(EXPIRED, THERAPIST, id="break-glass"),
    ],
)
@pytest.mark.parametrize(
    ("needed", "writes"), [(Access.record, False), (Access.record, True), (Access.referral, False)]
)
async def test_the_decision_alone_is_the_decision_with_the_record_for_every_caller_and_relationship(
    who: Principal, events: tuple[BaseModel, ...], glass: str | None, needed: Access, writes: bool
) -> None:
    ctx, _ = await counted(*events, break_glass_for=glass)
    scope = "intake:write" if writes else "intake:read"
    with_record, with_record_trail = audit_of(who)
    alone, alone_trail = audit_of(who)
    expected = await outcome(
        client_record_for(
            with_record,
            CLIENT,
            ctx,
            resource="intake",
            resource_id="i",
            needed=needed,
            scope=scope,
            writes=writes,
        ),
        with_record_trail,
    )
    decided = await outcome(
        allowed_for(
            alone, CLIENT, ctx, resource="intake", resource_id="i", needed=needed, scope=scope, writes=writes
        ),
        alone_trail,
    )
    assert decided == expected


@pytest.mark.parametrize(
    ("who", "reads"),
    [
        (Principal(CLIENT, Role.client), 0),
        (Principal("client-2", Role.client), 0),
        (Principal("ops", Role.admin), 0),
        (Principal("scheduling", Role.service, frozenset({"intake:write"})), 0),
        (clinician(), 1),
    ],
)
async def test_only_a_clinicians_access_reads_the_client_record(who: Principal, reads: int) -> None:
    ctx, clients = await counted(*CHOSEN)
    audit, _ = audit_of(who)
    try:
        await ensure_allowed(
            audit,
            dict(INTAKE),
            ctx,
            resource="intake",
            resource_id="intake-1",
            scope="intake:write",
            writes=True,
        )
    except NotFound:
        assert who.subject == "client-2"
    assert clients.reads == reads


async def test_a_missing_document_is_not_found_before_any_decision() -> None:
    ctx, clients = await counted()
    audit, trail = audit_of(Principal("ops", Role.admin))
    with pytest.raises(NotFound):
        await ensure_allowed(audit, None, ctx, resource="intake", resource_id="x")
    assert clients.reads == 0 and trail.records == []


# ---------------------------------------------------------------------- events that move no care

STILL = [
    samples.booked(CLIENT, THERAPIST, by="system"),
    samples.booked(CLIENT, THERAPIST, by="clinician"),
    samples.booked(CLIENT, THERAPIST, by="admin"),
    samples.booked(CLIENT, THERAPIST, by="client", kind="therapy"),
    samples.booked(CLIENT, OTHER, by="system"),
    samples.attended(CLIENT, THERAPIST, "no_show"),
    samples.attended(CLIENT, THERAPIST, "held").model_copy(update={"kind": "therapy"}),
]
MOVING = [
    PROPOSED[0],
    samples.accepted(CLIENT, THERAPIST),
    samples.declined(CLIENT, THERAPIST),
    samples.booked(CLIENT, THERAPIST, by="client"),
    samples.attended(CLIENT, THERAPIST, "held"),
]
HISTORIES = [(), PROPOSED, CHOSEN, CHOSEN_BY_BOOKING, IN_CARE, NO_SHOW, SWITCHED, DECLINED, EXPIRED]


@pytest.mark.parametrize("event", STILL, ids=lambda e: f"{type(e).__name__}")
def test_a_booking_or_attendance_that_is_no_choice_moves_no_relationship_of_any_record(
    event: BaseModel,
) -> None:
    assert not may_move_care(event)
    for history in HISTORIES:
        before = care(*history)
        for at in (NOW - timedelta(days=1), NOW + timedelta(days=1)):
            assert before.apply(event, at) == before


@pytest.mark.parametrize("event", MOVING, ids=lambda e: f"{type(e).__name__}")
def test_choices_proposals_declines_and_held_introductions_are_folded(event: BaseModel) -> None:
    assert may_move_care(event)


async def test_a_booking_that_is_no_choice_neither_reads_nor_writes_the_record() -> None:
    ctx, clients = await counted(*PROPOSED)
    stored = await ctx.clients.get(CLIENT)
    clients.reads = 0
    envelope = new_event(samples.booked(CLIENT, THERAPIST, by="system"), source="tests", now=NOW)
    await follow_care(FollowCare(CLIENT, envelope.data, envelope.envelope), ctx)
    assert clients.reads == 0
    assert await ctx.clients.get(CLIENT) == stored


# ---------------------------------------------------------------------- who writes the plan


def care(*events: BaseModel) -> CareRelationships:
    folded = CareRelationships()
    for minutes, event in enumerate(events):
        folded = folded.apply(event, NOW + timedelta(minutes=minutes))
    return folded


@pytest.mark.parametrize(
    ("who", "named", "events", "author"),
    [
        (clinician(), None, IN_CARE, THERAPIST),
        (clinician(), None, CHOSEN, None),
        (clinician(), None, NO_SHOW, None),
        (clinician(OTHER), None, IN_CARE, None),
        (Principal("ops", Role.admin), None, IN_CARE, THERAPIST),
        (Principal("ops", Role.admin), THERAPIST, IN_CARE, THERAPIST),
        (Principal("ops", Role.admin), OTHER, IN_CARE, None),
        (Principal("ops", Role.admin), None, CHOSEN, None),
        (Principal("scheduling", Role.service), None, IN_CARE, THERAPIST),
        (Principal(CLIENT, Role.client), None, IN_CARE, None),
    ],
)
def test_only_the_therapist_in_care_or_an_admin_for_them_writes_the_plan(
    who: Principal, named: str | None, events: tuple[BaseModel, ...], author: str | None
) -> None:
    assert plan_author(who, named, care(*events)) == author


async def test_a_chosen_therapist_writing_the_plan_is_told_the_introduction_was_not_held() -> None:
    ctx = await related(*CHOSEN)
    audit, trail = audit_of(clinician())
    granted = await client_record_for(audit, CLIENT, ctx, resource="treatment_plan")
    with pytest.raises(Conflict) as refused:
        await ensure_plan_author(audit, granted, named=None)
    problem = refusal_problem(refused.value)
    assert (problem.status, problem.extensions["code"]) == (409, "not_in_care")
    (entry,) = trail.records
    assert (entry["action"], entry["resource"], entry["basis"]) == ("refused", "treatment_plan", "chosen")


async def test_a_clinician_cannot_write_the_plan_in_another_therapists_name() -> None:
    ctx = await related(*IN_CARE)
    audit, _ = audit_of(clinician())
    granted = await client_record_for(audit, CLIENT, ctx, resource="treatment_plan")
    with pytest.raises(Invalid) as refused:
        await ensure_plan_author(audit, granted, named=OTHER)
    assert refusal_problem(refused.value).status == 422
    assert await ensure_plan_author(audit, granted, named=THERAPIST) == THERAPIST


async def test_relationship_events_redelivered_change_nothing_twice() -> None:
    ctx = samples.context()
    outgoing = [new_event(data, source="tests", now=NOW) for data in IN_CARE]
    for event in [*outgoing, *outgoing]:
        await follow_care(FollowCare(CLIENT, event.data, event.envelope), ctx)
    assert await ctx.clients.get(CLIENT) is not None
    care = (await client_record(ctx.clients, CLIENT)).care
    assert care.in_care_with == THERAPIST
    assert care.state_of(OTHER, NOW) is CareState.withdrawn  # the other candidate lapsed


async def test_a_booking_that_is_no_choice_creates_no_record() -> None:
    ctx = await related(samples.booked(CLIENT, THERAPIST, by="system"))
    assert await ctx.clients.get(CLIENT) is None


# ---------------------------------------------------------------------- start-up refusals


def test_the_service_refuses_to_start_without_encryption_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIELD_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("FIELD_ENCRYPTION_ACTIVE_KEY", raising=False)
    monkeypatch.setattr("services.intake.__main__.serve", lambda app, settings: pytest.fail("served"))
    assert main() == 2


def test_the_service_refuses_to_start_serving_a_country_without_crisis_resources(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INTAKE_SERVED_COUNTRIES", "US,GB,ZZ")
    monkeypatch.setattr("services.intake.__main__.serve", lambda app, settings: pytest.fail("served"))
    with pytest.raises(SystemExit) as refused:
        main()
    assert refused.value.code == 2
    assert "no crisis resources for ZZ" in capsys.readouterr().err


@pytest.mark.parametrize(("given", "served"), [("us, gb", ["US", "GB"]), ('["MX"]', ["MX"])])
def test_served_countries_are_read_as_a_list_or_json(
    monkeypatch: pytest.MonkeyPatch, given: str, served: list[str]
) -> None:
    monkeypatch.setenv("INTAKE_SERVED_COUNTRIES", given)
    assert IntakeSettings().served_countries == served
