"""Submit an intake: check it is complete, score it, screen risk, and publish.

All of it happens inside one write of the intake document, revision-checked: the
completeness check and the scores are computed from the document as it is at that
moment (a concurrent PATCH that lands first makes the write read it again and check anew),
and the events go into the same write's outbox. A moderate or high risk puts
`risk-flagged` before `intake-completed`, both with the journey's correlation id (the
intake id: the journey starts here);
`risk-flagged` names the client's jurisdiction and first language. A second submit finds
the intake submitted and returns the stored result, publishing nothing. An intake from a
country Carepath does not serve is refused like an incomplete one (422 naming
`jurisdiction`), before anything is stored or published. A clinician's on-behalf submission
is marked in the intake, and `intake-completed` names the clinician of the latest on-behalf
entry into it (`entered_on_behalf_by`; null when the client entered it all).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.intake.context import IntakeContext
from services.intake.domain.intake import IntakeSections, Preferences, submission_problems
from services.intake.domain.on_behalf import OnBehalfEntry
from services.intake.domain.risk import RiskScreen, screen_risk
from services.intake.domain.scoring import Gad7Score, Phq9Score, score_gad7, score_phq9
from services.intake.store.intakes import client_of, opened_sections
from services.intake.store.on_behalf import (
    ENTERED_ON_BEHALF,
    entered_by,
    entry_document,
    intake_entries,
    reason_context,
)
from services.intake.store.screenings import screening_document
from shared.clock import stored_instant
from shared.events.common import (
    Gad7Summary,
    Phq9Summary,
    Weekday,
    WeeklyWindow,
)
from shared.events.common import (
    Preferences as PreferencesCodes,
)
from shared.events.envelope import OutgoingEvent, deterministic_event_id, new_event
from shared.events.models import IntakeCompleted, RiskFlagged
from shared.observability.logs import get_logger
from shared.refusals import Invalid, NotFound
from shared.storage import Document
from shared.storage.documents import Revision

SOURCE = "intake"

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SubmitIntake:
    intake_id: str
    now: datetime
    on_behalf: OnBehalfEntry | None = None
    """A clinician's submission for the client; None: the caller's own."""
    client_id: str | None = None
    """Whose intake it is, when the caller read it already (the route does, to authorize)."""


async def submit_intake(command: SubmitIntake, ctx: IntakeContext) -> Document:
    """The submitted intake (with `result`); refused with every missing field at once.

    Intakes are accepted from `ctx.served_countries` (`INTAKE_SERVED_COUNTRIES`) only.
    """
    intake_id = command.intake_id
    submitted_at = stored_instant(command.now)
    client_id = command.client_id or await client_of(ctx.intakes, intake_id)
    if client_id is None:
        raise NotFound("no such record")
    cipher = await ctx.reader_for(client_id)
    sealer = await ctx.cipher_for(client_id) if command.on_behalf is not None else cipher

    def change(current: Document) -> Revision | None:
        if current["status"] == "submitted":
            return None
        sections = opened_sections(current["sections"], intake_id=intake_id, cipher=cipher)
        if problems := submission_problems(sections, served=ctx.served_countries):
            raise Invalid(problems)
        assert sections.phq9 is not None and sections.gad7 is not None  # checked just above
        phq9, gad7 = score_phq9(sections.phq9), score_gad7(sections.gad7)
        risk = screen_risk(phq9.item9, sections.cssrs.answers() if sections.cssrs else None)
        journey = intake_id
        submitted = {
            **current,
            "status": "submitted",
            "submitted_at": submitted_at,
            "updated_at": submitted_at,
            "correlation_id": journey,
            "result": screening_document(phq9, gad7, risk),
        }
        if command.on_behalf is not None:
            entry = entry_document(
                command.on_behalf,
                action="submit",
                at=submitted_at,
                context=reason_context("intakes", intake_id),
                cipher=sealer,
            )
            submitted[ENTERED_ON_BEHALF] = [*intake_entries(current), entry]
        events = _events(submitted, sections, phq9, gad7, risk, at=submitted_at, journey=journey)
        return Revision(submitted, events)

    stored = await ctx.intakes.update(intake_id, change)
    if stored is None:
        raise NotFound("no such record")
    if stored["submitted_at"] == submitted_at:  # this request submitted it (ids and codes only)
        log.info(
            "intake submitted",
            intake_id=intake_id,
            client_id=stored["client_id"],
            risk_level=stored["result"]["risk_level"],
        )
    return stored


def _events(
    intake: Document,
    sections: IntakeSections,
    phq9: Phq9Score,
    gad7: Gad7Score,
    risk: RiskScreen,
    *,
    at: datetime,
    journey: str,
) -> list[OutgoingEvent]:
    """`risk-flagged` first when the screen alerts, then `intake-completed`: codes and numbers only."""
    intake_id, client_id = str(intake["_id"]), str(intake["client_id"])
    assert sections.jurisdiction and sections.timezone and sections.languages and sections.concerns
    assert sections.availability
    completed = IntakeCompleted(
        intake_id=intake_id,
        client_id=client_id,
        submitted_at=at,
        jurisdiction=sections.jurisdiction,
        timezone=sections.timezone,
        languages=sections.languages,
        concerns=sections.concerns,
        goals=[goal.code for goal in sections.goals or []],
        phq9=Phq9Summary(total=phq9.total, severity=phq9.severity, item9=phq9.item9),
        gad7=Gad7Summary(total=gad7.total, severity=gad7.severity),
        risk_level=risk.level,
        preferences=PreferencesCodes(**(sections.preferences or Preferences()).model_dump()),
        availability=[
            WeeklyWindow(day=Weekday(window.day[:3]), start=window.start, end=window.end)
            for window in sections.availability
        ],
        entered_on_behalf_by=entered_by(intake),
    )
    events: list[OutgoingEvent] = []
    if risk.alerting:
        flagged = RiskFlagged(
            intake_id=intake_id,
            client_id=client_id,
            risk_level=risk.level,
            reasons=list(risk.reasons),
            flagged_at=at,
            jurisdiction=sections.jurisdiction,
            language=sections.languages[0],
        )
        events.append(_event(flagged, intake_id, journey, at))
    events.append(_event(completed, intake_id, journey, at))
    return events


def _event(data: IntakeCompleted | RiskFlagged, intake_id: str, journey: str, at: datetime) -> OutgoingEvent:
    """Ids derive from the intake, so the same submission can only ever mean the same events."""
    name = "risk-flagged" if isinstance(data, RiskFlagged) else "intake-completed"
    return new_event(
        data,
        source=SOURCE,
        correlation_id=journey,
        event_id=deterministic_event_id(intake_id, name),
        now=at,
    )
