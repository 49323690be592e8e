"""Ids and join links: random where a request starts something, derived where an event does.

A session booked because of an event gets an id derived from that event, so handling the
event again (after a crash) claims and writes the very same session instead of a second
one. A join link's room id is random and unguessable, whatever the session id.
"""

from __future__ import annotations

import secrets

from shared.events.envelope import deterministic_event_id


def new_session_id() -> str:
    return "ses_" + secrets.token_hex(12)


def derived_id(prefix: str, *parts: str) -> str:
    return f"{prefix}_" + deterministic_event_id(prefix, *parts).replace("-", "")[:24]


def join_url(video_base_url: str) -> str:
    return f"{video_base_url.rstrip('/')}/{secrets.token_urlsafe(16)}"
