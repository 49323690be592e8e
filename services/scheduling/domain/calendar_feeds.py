"""Secret calendar feed URLs: a person's calendar for apps that cannot send a Bearer token.

Calendar apps subscribe to a URL and fetch it on their own, with no way to sign in, so a
feed's URL is its credential: whoever holds it reads its owner's calendar (a client's, or a
therapist's own sessions) exactly as the owner would with a token. Hence the token is 256
random bits, shown once when the feed is made, and only its SHA-256 is kept: a copy of the
database opens no calendar, and a hash of so much randomness needs no salt or slow hash.
The feed's id is no secret; it names the feed for listing and revoking. A revoked feed is
gone, and its URL answers 404 like one that never was.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

TOKEN_BYTES = 32
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{43}$"  # noqa: S105 (the shape of a token, not one)
"""What `new_token` makes (URL-safe base64 of 32 bytes); anything else is no feed's token."""


class CalendarOf(StrEnum):
    """Whose calendar a feed shows: a client's sessions, or a therapist's own."""

    client = "client"
    therapist = "therapist"


@dataclass(frozen=True, slots=True)
class CalendarFeed:
    feed_id: str
    calendar_of: CalendarOf
    owner_id: str
    created_at: datetime
    created_by: str
    """Who made it: the owner, or an admin for them (a subject id, for the audit trail)."""


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_feed_id() -> str:
    return "cf_" + secrets.token_hex(12)


def token_digest(token: str) -> str:
    """What is stored of a token, and how a presented one is found (`_id`, one read)."""
    return hashlib.sha256(token.encode()).hexdigest()
