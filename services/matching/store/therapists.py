"""The `therapists` collection: one document per therapist, `_id = therapist_id`.

    {_id, profile: {...} | None,                 what an admin PUT (None until then)
     caseload: [{client_id, match_id, since}],   derived from bookings, cancellations, switches
     holds: [{match_id, client_id, expires_at}], capacity held for open proposals
     availability: {timezone, weekly, accepting_new_clients, open_slots_next_14_days, changed_at} | None,
     revision, updated_at}

Everything capacity depends on lives in this one document, so its revision-checked writes
(`DocumentStore.update`) serialise every writer of it: of two replicas placing holds on one
therapist at once, the second's write finds the revision it read gone, reads the document
again and sees the first's hold before deciding. The
rules of holds and caseload are `domain/capacity.py`'s; the changes here map the document
to a `Capacity` and write back what a move changed. `revision` grows with every write, so
a replica's read model can tell a newer copy from an older one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from services.matching.domain.capacity import Capacity, InCare
from services.matching.domain.filters import ProposalRound
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
        holds=_holds_of(document),
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


def _holds_of(document: Mapping[str, Any]) -> tuple[Hold, ...]:
    return tuple(Hold(h["match_id"], h["client_id"], h["expires_at"]) for h in document.get("holds", ()))


def capacity_of(document: Mapping[str, Any]) -> Capacity:
    return Capacity(
        caseload=tuple(
            InCare(c["client_id"], c.get("match_id"), c["since"]) for c in document.get("caseload", ())
        ),
        holds=_holds_of(document),
    )


def holds_for(document: Mapping[str, Any] | None, match_id: str) -> bool:
    """Whether the therapist, as written, holds capacity for proposal `match_id`."""
    return document is not None and capacity_of(document).holds_for(match_id)


def _changing(move: Callable[[Capacity, Document], Capacity | None], now: datetime) -> Change:
    """The write of a capacity move on the therapist as stored now: the parts it changed."""

    def change(current: Document) -> Revision | None:
        before = capacity_of(current)
        after = move(before, current)
        if after is None:
            return None
        written: dict[str, Any] = {}
        if after.holds != before.holds:
            written["holds"] = [
                {"match_id": h.match_id, "client_id": h.client_id, "expires_at": h.expires_at}
                for h in after.holds
            ]
        if after.caseload != before.caseload:
            written["caseload"] = [
                {"client_id": c.client_id, "match_id": c.match_id, "since": c.since} for c in after.caseload
            ]
        return Revision(_next(current, now, **written))

    return change


def put_profile(profile: TherapistProfile, now: datetime) -> Creation:
    """Create the therapist or replace their profile; caseload, holds and availability stay."""
    stored = profile.model_dump(mode="json")

    def change(current: Document | None) -> Revision | None:
        if current is not None and current.get("profile") == stored:
            return None
        return Revision(_next(current, now, profile=stored))

    return change


def place_hold(hold: Hold, needs: ClientNeeds, moment: ProposalRound) -> Change:
    """`Capacity.place_hold`, checked on the therapist as stored when the write is made."""
    return _changing(
        lambda capacity, current: capacity.place_hold(hold, therapist_from_document(current), needs, moment),
        moment.now,
    )


def release_hold(match_id: str, now: datetime) -> Change:
    return _changing(lambda capacity, _: capacity.release_hold(match_id, now), now)


def extend_hold(match_id: str, expires_at: datetime, now: datetime) -> Change:
    return _changing(lambda capacity, _: capacity.extend_hold(match_id, expires_at, now), now)


def start_care(client_id: str, match_id: str | None, now: datetime) -> Change:
    return _changing(lambda capacity, _: capacity.start_care(client_id, match_id, now), now)


def end_care(client_id: str, now: datetime) -> Change:
    return _changing(lambda capacity, _: capacity.end_care(client_id), now)


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
