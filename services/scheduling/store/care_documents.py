"""The care record's document form (`clients/{client_id}`), and a session's as the read model keeps it.

The domain's values (`domain/care.py`) know nothing of documents; this is the one place that
maps them to what MongoDB stores and back. Fields added later read with a default, so a
document written before them still loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.scheduling.domain.availability import DAY_CODES, format_clock
from services.scheduling.domain.cancellation import SessionStatus
from services.scheduling.domain.care import (
    Attendance,
    Care,
    CheckIns,
    CheckInStatus,
    Plan,
    Proposal,
    ProposalOutcome,
    Series,
    SeriesStatus,
    Session,
    SessionKind,
    Unplaced,
    windows_from,
)
from shared.care.relationship import CareRelationships
from shared.events.common import PlanStatus, SessionCadence


def care_to_document(care: Care) -> dict[str, Any]:
    return {
        "client_id": care.client_id,
        "correlation_id": care.correlation_id,
        "timezone": care.timezone,
        "windows": [
            {"day": DAY_CODES[day], "start": format_clock(w.start), "end": format_clock(w.end)}
            for day, w in care.windows
        ],
        "session_format": care.session_format,
        "proposals": [_proposal_to_document(p) for p in care.proposals],
        "relationships": care.relationships.to_document(),
        "series": None if care.series is None else _series_to_document(care.series),
        "plan": None if care.plan is None else _plan_to_document(care.plan),
        "check_ins": None if care.check_ins is None else _check_ins_to_document(care.check_ins),
        "sessions": [session_to_document(s) for s in care.sessions],
    }


def care_from_document(d: Mapping[str, Any]) -> Care:
    return Care(
        client_id=d["client_id"],
        correlation_id=d.get("correlation_id"),
        timezone=d.get("timezone"),
        windows=windows_from(d.get("windows") or ()),
        session_format=d.get("session_format") or "video",
        proposals=tuple(_proposal_from_document(p) for p in d.get("proposals") or ()),
        relationships=CareRelationships.from_document(d.get("relationships")),
        series=None if d.get("series") is None else _series_from_document(d["series"]),
        plan=None if d.get("plan") is None else _plan_from_document(d["plan"]),
        check_ins=None if d.get("check_ins") is None else _check_ins_from_document(d["check_ins"]),
        sessions=tuple(session_from_document(s) for s in d.get("sessions") or ()),
    )


def session_to_document(session: Session) -> dict[str, Any]:
    return {
        "session_id": session.session_id,
        "client_id": session.client_id,
        "therapist_id": session.therapist_id,
        "series_id": session.series_id,
        "sequence": session.sequence,
        "kind": session.kind.value,
        "starts_at": session.starts_at,
        "ends_at": session.ends_at,
        "busy_from": session.busy_from,
        "busy_to": session.busy_to,
        "timezone": session.timezone,
        "therapist_timezone": session.therapist_timezone,
        "format": session.format,
        "join_url": session.join_url,
        "status": session.status.value,
        "revision": session.revision,
        "claims": list(session.claims),
        "match_id": session.match_id,
        "target": session.target,
        "booked_at": session.booked_at,
        "updated_at": session.updated_at,
        "cancelled_by": session.cancelled_by,
        "cancel_reason": session.cancel_reason,
        "booked_by": session.booked_by,
        "override_reason": session.override_reason,
        "attendance": None if session.attendance is None else session.attendance.value,
        "attendance_recorded_at": session.attendance_recorded_at,
        "attendance_recorded_by": session.attendance_recorded_by,
        "offered_slots": list(session.offered_slots),
    }


def session_from_document(d: Mapping[str, Any]) -> Session:
    return Session(
        session_id=d["session_id"],
        client_id=d["client_id"],
        therapist_id=d["therapist_id"],
        series_id=d["series_id"],
        sequence=int(d["sequence"]),
        kind=SessionKind(d["kind"]),
        starts_at=d["starts_at"],
        ends_at=d["ends_at"],
        busy_from=d["busy_from"],
        busy_to=d["busy_to"],
        timezone=d["timezone"],
        therapist_timezone=d["therapist_timezone"],
        format=d["format"],
        join_url=d["join_url"],
        status=SessionStatus(d["status"]),
        revision=int(d.get("revision", 0)),
        claims=tuple(d.get("claims") or ()),
        match_id=d.get("match_id"),
        target=d.get("target"),
        booked_at=d.get("booked_at"),
        updated_at=d.get("updated_at"),
        cancelled_by=d.get("cancelled_by"),
        cancel_reason=d.get("cancel_reason"),
        booked_by=d.get("booked_by"),
        override_reason=d.get("override_reason"),
        attendance=None if d.get("attendance") is None else Attendance(d["attendance"]),
        attendance_recorded_at=d.get("attendance_recorded_at"),
        attendance_recorded_by=d.get("attendance_recorded_by"),
        offered_slots=tuple(d.get("offered_slots") or ()),
    )


def _series_to_document(series: Series) -> dict[str, Any]:
    return {
        "series_id": series.series_id,
        "therapist_id": series.therapist_id,
        "therapist_timezone": series.therapist_timezone,
        "cadence": series.cadence.value,
        "anchor": series.anchor,
        "status": series.status.value,
        "match_id": series.match_id,
        "next_sequence": series.next_sequence,
        "timer_id": series.timer_id,
        "timer_due": series.timer_due,
        "unplaced": [{"target": u.target, "reason": u.reason} for u in series.unplaced],
    }


def _series_from_document(d: Mapping[str, Any]) -> Series:
    return Series(
        series_id=d["series_id"],
        therapist_id=d["therapist_id"],
        therapist_timezone=d["therapist_timezone"],
        cadence=SessionCadence(d["cadence"]),
        anchor=d["anchor"],
        status=SeriesStatus(d["status"]),
        match_id=d.get("match_id"),
        next_sequence=int(d.get("next_sequence", 2)),
        timer_id=d.get("timer_id"),
        timer_due=d.get("timer_due"),
        unplaced=tuple(Unplaced(u["target"], u["reason"]) for u in d.get("unplaced") or ()),
    )


def _plan_to_document(plan: Plan) -> dict[str, Any]:
    return {
        "version": plan.version,
        "status": plan.status.value,
        "cadence": plan.cadence.value,
        "check_in_interval_days": plan.check_in_interval_days,
        "therapist_id": plan.therapist_id,
        "updated_at": plan.updated_at,
    }


def _plan_from_document(d: Mapping[str, Any]) -> Plan:
    return Plan(
        int(d["version"]),
        PlanStatus(d["status"]),
        SessionCadence(d["cadence"]),
        int(d["check_in_interval_days"]),
        therapist_id=d.get("therapist_id"),
        updated_at=d.get("updated_at"),
    )


def _check_ins_to_document(check_ins: CheckIns) -> dict[str, Any]:
    return {
        "status": check_ins.status.value,
        "interval_days": check_ins.interval_days,
        "base": check_ins.base,
        "due_at": check_ins.due_at,
        "timer_id": check_ins.timer_id,
        "fired": list(check_ins.fired),
    }


def _check_ins_from_document(d: Mapping[str, Any]) -> CheckIns:
    return CheckIns(
        CheckInStatus(d["status"]),
        int(d["interval_days"]),
        d["base"],
        d.get("due_at"),
        d.get("timer_id"),
        tuple(d.get("fired") or ()),
    )


def _proposal_to_document(proposal: Proposal) -> dict[str, Any]:
    return {
        "match_id": proposal.match_id,
        "outcome": proposal.outcome.value,
        "candidates": [{"therapist_id": t, "format": f} for t, f in proposal.candidates],
        "intake_id": proposal.intake_id,
        "accepted_therapist_id": proposal.accepted_therapist_id,
        "session_id": proposal.session_id,
        "expires_at": proposal.expires_at,
    }


def _proposal_from_document(d: Mapping[str, Any]) -> Proposal:
    return Proposal(
        match_id=d["match_id"],
        outcome=ProposalOutcome(d["outcome"]),
        candidates=tuple((c["therapist_id"], c.get("format")) for c in d.get("candidates") or ()),
        intake_id=d.get("intake_id"),
        accepted_therapist_id=d.get("accepted_therapist_id"),
        session_id=d.get("session_id"),
        expires_at=d.get("expires_at"),
    )
