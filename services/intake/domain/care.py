"""Who writes a client's treatment plan: only the therapist the client is in care with.

The care relationship (`shared.care.relationship`, DESIGN §2) decides who may read the
record; writing the plan asks for more than reading it. A chosen therapist reads the
record to prepare the introduction, but the plan is set together with the client once
the introduction was held (in care). An admin or a service writes only for the therapist
in care (named, or the one in care when none is named), so nobody can end or redirect
the care of a therapist the client left, or one they have not met yet.

A booking or an attendance moves a relationship only when it is the client's own choice or
the introduction held (`may_move_care`): any other leaves every record as it is, so the
client's record is neither read nor written for it (on the journey, `book_at_once`'s booking).
"""

from __future__ import annotations

from pydantic import BaseModel

from shared.care.relationship import CareRelationships
from shared.events.models import SessionAttendanceRecorded, SessionBooked
from shared.http.auth import Principal, Role


def plan_author(who: Principal, named: str | None, care: CareRelationships) -> str | None:
    """The therapist a plan version is written for, or None when nobody `who` may name is in care.

    A clinician writes as themselves (naming anyone else is the caller's mistake, refused
    before this); an admin or a service writes for `named` or, naming nobody, for the
    therapist in care.
    """
    if who.role is Role.clinician:
        therapist_id: str | None = who.subject
    elif who.role in (Role.admin, Role.service):
        therapist_id = named or care.in_care_with
    else:
        return None
    return therapist_id if therapist_id is not None and care.may_write_plan(therapist_id) else None


def may_move_care(event: BaseModel) -> bool:
    """Whether `event` can move any relationship of any record (`CareRelationships.apply`).

    A session booked by anyone but the client, or of the therapy series, and an attendance
    other than a held introduction, move none whatever the record holds.
    """
    if isinstance(event, SessionBooked):
        return event.booked_by == "client" and event.kind == "introduction"
    if isinstance(event, SessionAttendanceRecorded):
        return event.kind == "introduction" and event.attendance == "held"
    return True
