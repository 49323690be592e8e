"""Entries a clinician makes for a client: only explicit, and only as such.

The intake and the check-in answers are the client's own account; a score or risk screen
built from answers the client never gave would mislead every reader after. A clinician
may still enter them for a client who cannot (on the phone, in session, from a paper form),
but only as an explicit on-behalf entry: it names how and why, is audited with basis
`on_behalf_of`, is marked in the stored record and in the event, and is open only to a
clinician with the client's record (chosen or in care; break-glass reads never write).

The client, an admin and a service (with its scope) enter as before; an on-behalf entry is
a clinician's alone, so anyone else sending one made a mistake the caller should see.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.http.auth import Role

ON_BEHALF_OF = "on_behalf_of"
"""The audit basis of an entry made for the client."""

Method = Literal["phone", "in_session", "paper"]


class OnBehalfOf(BaseModel):
    """A clinician's entry for the client: how they got the answers and why the client did not enter them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(
        min_length=3,
        max_length=500,
        description="Why the clinician enters it (free text, encrypted at rest, never logged)",
        examples=["client has no internet access this week"],
    )
    method: Method = Field(description="How the answers were given: phone, in_session or paper")


@dataclass(frozen=True, slots=True)
class OnBehalfEntry:
    """An on-behalf entry as a command carries it: who entered, how and why."""

    by: str
    """The clinician's therapist id."""
    method: Method
    reason: str


class EntryVerdict(StrEnum):
    own = "own"
    """The client, an admin or a service: entered as given."""
    on_behalf = "on_behalf"
    """A clinician's explicit entry for the client."""
    needs_on_behalf = "needs_on_behalf"
    """A clinician without `on_behalf_of`: refused (403)."""
    not_a_clinician = "not_a_clinician"
    """`on_behalf_of` from anyone but a clinician: refused (422)."""


def entry_verdict(role: Role, on_behalf: OnBehalfOf | None) -> EntryVerdict:
    """Whether an entry into a client's intake or check-in is allowed as sent (access decided before)."""
    if role is Role.clinician:
        return EntryVerdict.on_behalf if on_behalf is not None else EntryVerdict.needs_on_behalf
    return EntryVerdict.not_a_clinician if on_behalf is not None else EntryVerdict.own
