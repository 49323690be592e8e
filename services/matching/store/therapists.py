"""The `therapists` collection: one document per therapist, `_id = therapist_id`.

    {_id, profile: {...} | None,                 what an admin PUT (None until then)
     caseload: [{client_id, match_id, since}],   derived from bookings, cancellations, switches
     holds: [{match_id, client_id, expires_at}], capacity held for open proposals
     availability: {timezone, weekly, accepting_new_clients, open_slots_next_14_days, changed_at} | None,
     revision, updated_at}

Everything capacity depends on lives in this one document, so the document's lease
(`DocumentStore.update`) serialises every writer of it: two replicas placing holds on one
therapist at once take turns, and the second sees the first's hold before deciding. That
is what makes capacity impossible to oversubscribe. `revision` grows with every write, so
a replica's read model can tell a newer copy from an older one.

The functions here are pure changes (document -> Revision) for `Documents.update/upsert`;
each is idempotent by its nature (set a hold keyed by proposal, add a client to a set...),
so a redelivered event or a retried request changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from services.matching.domain.filters import ProposalRound, first_violation
from services.matching.domain.needs import ClientNeeds
from services.matching.domain.profile import TherapistProfile
from services.matching.domain.therapist import Availability, Hold, Therapist, languages_of, shared
from shared.events.models import TherapistAvailabilityChanged
from shared.storage import Document
from shared.storage.documents import Change, Creation, Revision

COLLECTION = "therapists"


def therapist_from_document(document: Mapping[str, Any]) -> Therapist | None:
    """The ranking view of a stored therapist; None until an admin has put a profile."""
    profile = document.get("profile")
    if not profile:
        return None
    availability = document.get("availability")
    return Therapist(
        id=document["_id"],
        gender=profile["gender"],
        languages=languages_of(profile["languages"]),
        jurisdictions=shared(profile["licensed_jurisdictions"]),
        specialties={s["concern"]: int(s["years"]) for s in profile.get("specialties", ())},
        approaches=shared(profile["approaches"]),
        competencies=shared(profile.get("competencies", ())),
        communication_style=profile.get("communication_style"),
        formats=shared(profile["formats"]),
        in_person_regions=shared(profile.get("in_person_regions", ())),
        price_per_session=int(profile["price_per_session"]),
        insurers=shared(profile.get("insurers", ())),
        profile_accepting=bool(profile.get("accepting_new_clients", True)),
        capacity=int(profile["capacity"]),
        high_acuity=bool(profile.get("high_acuity", False)),
        timezone=profile["timezone"],
        in_care=len(document.get("caseload", ())),
        holds=tuple(Hold(h["match_id"], h["client_id"], h["expires_at"]) for h in document.get("holds", ())),
        availability=None
        if not availability
        else Availability(
            timezone=availability["timezone"],
            windows=tuple((w["day"], w["start"], w["end"]) for w in availability.get("weekly", ())),
            accepting_new_clients=bool(availability.get("accepting_new_clients", True)),
        ),
        revision=int(document.get("revision", 0)),
    )


def _next(current: Document | None, now: datetime, **fields: Any) -> Document:
    base: Document = current or {"profile": None, "caseload": [], "holds": [], "availability": None}
    return {**base, **fields, "revision": int(base.get("revision", 0)) + 1, "updated_at": now}


def _live(holds: Iterable[Mapping[str, Any]], now: datetime) -> list[Mapping[str, Any]]:
    return [h for h in holds if h["expires_at"] > now]


def put_profile(profile: TherapistProfile, now: datetime) -> Creation:
    """Create the therapist or replace their profile; caseload, holds and availability stay."""
    stored = profile.model_dump(mode="json")

    def change(current: Document | None) -> Revision | None:
        if current is not None and current.get("profile") == stored:
            return None
        return Revision(_next(current, now, profile=stored))

    return change


def place_hold(
    match_id: str, client_id: str, expires_at: datetime, needs: ClientNeeds, moment: ProposalRound
) -> Change:
    """Hold one client's worth of capacity for proposal `match_id`, if the therapist still qualifies.

    Every hard constraint is checked again on the document as it is now, under its lease:
    the caller ranked on its in-process copy, which another replica may have outdated. A
    therapist who no longer qualifies is left unchanged (the caller sees no hold and moves
    on); a hold this proposal placed already is kept as it is (a redelivery).
    """

    def change(current: Document) -> Revision | None:
        if any(h["match_id"] == match_id for h in current.get("holds", ())):
            return None
        therapist = therapist_from_document(current)
        if therapist is None or first_violation(therapist, needs, moment) is not None:
            return None
        hold = {"match_id": match_id, "client_id": client_id, "expires_at": expires_at}
        return Revision(
            _next(current, moment.now, holds=[*_live(current.get("holds", ()), moment.now), hold])
        )

    return change


def holds_for(document: Mapping[str, Any] | None, match_id: str) -> bool:
    return document is not None and any(h["match_id"] == match_id for h in document.get("holds", ()))


def release_hold(match_id: str, now: datetime) -> Change:
    """Give back the capacity held for `match_id` (and drop holds that ran out meanwhile)."""

    def change(current: Document) -> Revision | None:
        holds = current.get("holds", ())
        kept = [h for h in _live(holds, now) if h["match_id"] != match_id]
        if len(kept) == len(holds):
            return None
        return Revision(_next(current, now, holds=kept))

    return change


def extend_hold(match_id: str, expires_at: datetime, now: datetime) -> Change:
    """Keep the accepted therapist's hold until the booking arrives (or `expires_at`)."""

    def change(current: Document) -> Revision | None:
        holds = [dict(h) for h in _live(current.get("holds", ()), now)]
        for hold in holds:
            if hold["match_id"] == match_id and hold["expires_at"] < expires_at:
                hold["expires_at"] = expires_at
                return Revision(_next(current, now, holds=holds))
        return None

    return change


def start_care(client_id: str, match_id: str | None, now: datetime) -> Change:
    """The client's first session is booked: they join the caseload, and the hold becomes it."""

    def change(current: Document) -> Revision | None:
        caseload = list(current.get("caseload", ()))
        holds = current.get("holds", ())
        kept = [h for h in _live(holds, now) if h["match_id"] != match_id]
        in_care = any(entry["client_id"] == client_id for entry in caseload)
        if in_care and len(kept) == len(holds):
            return None
        if not in_care:
            caseload.append({"client_id": client_id, "match_id": match_id, "since": now})
        return Revision(_next(current, now, caseload=caseload, holds=kept))

    return change


def end_care(client_id: str, now: datetime) -> Change:
    """The client left this therapist (switched, first session cancelled, care completed)."""

    def change(current: Document) -> Revision | None:
        caseload = current.get("caseload", ())
        kept = [entry for entry in caseload if entry["client_id"] != client_id]
        if len(kept) == len(caseload):
            return None
        return Revision(_next(current, now, caseload=kept))

    return change


def set_availability(event: TherapistAvailabilityChanged, now: datetime) -> Creation:
    """Scheduling's latest word on the therapist's hours; an older word never wins."""
    stored = {
        "timezone": event.timezone,
        "weekly": [w.model_dump(mode="json") for w in event.weekly],
        "accepting_new_clients": event.accepting_new_clients,
        "open_slots_next_14_days": event.open_slots_next_14_days,
        "changed_at": event.changed_at,
    }

    def change(current: Document | None) -> Revision | None:
        held = (current or {}).get("availability")
        if held and held["changed_at"] >= event.changed_at:
            return None
        return Revision(_next(current, now, availability=stored))

    return change
