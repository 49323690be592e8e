"""What a `service` token may do: OAuth-style scopes, one catalogue for every service.

A service is a known backend (a web platform, a partner integration); its token carries
the space-separated `scope` claim of what that backend does, and nothing else is open to
it. Admins hold every scope; clients and clinicians hold none (their access follows their
own record and care relationships). A service lacking a scope gets 403 naming it: the
caller is a configured backend, so saying which scope is missing reveals no client.

Each scope is named `<what>:<verb>` for what the calling backend does:
"""

from __future__ import annotations

INTAKE_READ = "intake:read"
"""Read clients' intakes, check-ins, treatment plans and referral summaries (intake)."""
INTAKE_WRITE = "intake:write"
"""Start, save and submit clients' intakes and answer their check-ins (intake)."""
PLANS_WRITE = "plans:write"
"""Write treatment plan versions for the therapist in care (intake)."""
MATCHES_READ = "matches:read"
"""Read clients' proposals (matching)."""
MATCHES_WRITE = "matches:write"
"""Accept, decline and switch for a client (matching)."""
THERAPISTS_READ = "therapists:read"
"""Read and list the therapist directory (matching), therapists' availability and free slots (scheduling)."""
SESSIONS_READ = "sessions:read"
"""Read clients' sessions and therapists' session lists and calendars (scheduling)."""
SESSIONS_WRITE = "sessions:write"
"""Book, move and cancel sessions and record attendance (scheduling)."""
AVAILABILITY_WRITE = "availability:write"
"""Set a therapist's weekly availability (scheduling)."""
RECIPIENTS_WRITE = "recipients:write"
"""Set a recipient's preferences, read and mark their inbox, read their delivery log (notifications)."""
RECIPIENTS_CONTACT = "recipients:contact"
"""Register a recipient or replace their contact details: e-mail, phone, push token (notifications)."""

CATALOGUE: dict[str, str] = {
    INTAKE_READ: "read clients' intakes, check-ins, treatment plans and referral summaries",
    INTAKE_WRITE: "start, save and submit clients' intakes and answer their check-ins",
    PLANS_WRITE: "write treatment plan versions for the therapist in care",
    MATCHES_READ: "read clients' proposals",
    MATCHES_WRITE: "accept, decline and switch for a client",
    THERAPISTS_READ: "read and list the therapist directory, therapists' availability and free slots",
    SESSIONS_READ: "read clients' sessions and therapists' session lists and calendars",
    SESSIONS_WRITE: "book, move and cancel sessions and record attendance",
    AVAILABILITY_WRITE: "set a therapist's weekly availability",
    RECIPIENTS_WRITE: "set a recipient's preferences, read and mark their inbox and delivery log",
    RECIPIENTS_CONTACT: "register a recipient or replace their contact details (e-mail, phone, push)",
}
"""Every scope a service token may carry, with what it allows (`make token` checks against it)."""


def parse_scopes(claim: object) -> frozenset[str]:
    """The scopes of a token's `scope` claim (space-separated); unknown ones are kept, never granted more."""
    if not isinstance(claim, str):
        return frozenset()
    return frozenset(claim.split())
