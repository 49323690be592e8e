"""Scheduling's collections, every hot-path read a lone string `_id` (DESIGN §5).

- `therapists`: `_id = therapist_id`, availability (weekly rules, exceptions, policy);
  its outbox carries `therapist-availability-changed`;
- `clients`: `_id = client_id`, the client's care (`domain/care.py`): windows, proposals,
  series, plan, check-ins and every session; its outbox carries the session events;
  written as one unit of work by `clients.py`, in the form of `care_documents.py`;
- `therapist_sessions`: `_id = therapist_id`, the therapist's sessions as a read model
  (slots, listings, calendar feed), rewritten from the client documents after each change;
- `session_refs`: `_id = session_id`, which client document holds a session;
- `slot_claims`: `_id = therapist:cell` or `therapist:day:date:n`, the claims that make
  double booking impossible (`domain/claims.py`, `store/claims.py`);
- `calendar_feeds`: `_id = sha256 of a feed's token`, a secret calendar feed of a client or
  a therapist (`calendar_feeds.py`); the token itself is never stored;
- `timers` (the runtime's): check-in and series timers.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.ports import Documents, Timers

THERAPISTS = "therapists"
CLIENTS = "clients"
THERAPIST_SESSIONS = "therapist_sessions"
SESSION_REFS = "session_refs"
SLOT_CLAIMS = "slot_claims"
CALENDAR_FEEDS = "calendar_feeds"
COLLECTIONS = (THERAPISTS, CLIENTS, THERAPIST_SESSIONS, SESSION_REFS, SLOT_CLAIMS, CALENDAR_FEEDS)


@dataclass(frozen=True, slots=True)
class SchedulingStores:
    """The service's collections as ports (in-memory fakes in unit tests) and its timers."""

    therapists: Documents
    clients: Documents
    therapist_sessions: Documents
    session_refs: Documents
    slot_claims: Documents
    calendar_feeds: Documents
    timers: Timers
