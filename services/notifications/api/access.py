"""Who may read or act for a recipient: this service keeps no clinical record, so the care
relationship grants nothing here; a route is the recipient's own, an admin's, or a service's
acting for them with the scope it needs (`shared/http/scopes.py`).

Contact details are where crisis messages and join links go, so changing them asks for its
own scope (`recipients:contact`): a service that sets preferences cannot redirect messages.
"""

from __future__ import annotations

from shared.http.auth import Principal, Role, ensure_scope
from shared.http.scopes import RECIPIENTS_CONTACT, RECIPIENTS_WRITE
from shared.refusals import NotAllowed

ROLES_BY_CALLER: dict[Role, set[str]] = {Role.client: {"client"}, Role.clinician: {"therapist", "on_call"}}


def ensure_reads_contacts(who: Principal, recipient_id: str) -> None:
    """Contact details: the recipient themself and admins, nobody else (not even services)."""
    if who.role is not Role.admin and who.subject != recipient_id:
        raise NotAllowed("a recipient's contact details are readable only by them and admins")


def ensure_acts_for(who: Principal, recipient_id: str) -> None:
    """Preferences, inbox and delivery log: the recipient, admins, and services holding `recipients:write`."""
    ensure_scope(who, RECIPIENTS_WRITE)
    if not who.holds(RECIPIENTS_WRITE) and who.subject != recipient_id:
        raise NotAllowed("this recipient is not yours to act for")


def ensure_may_register(who: Principal, recipient_id: str, role: str) -> None:
    """A person registers only themself, and only in a role of theirs (a client never as on-call);
    a service needs `recipients:contact`, since registering sets where messages go."""
    ensure_scope(who, RECIPIENTS_CONTACT)
    if who.holds(RECIPIENTS_CONTACT):
        return
    if who.subject != recipient_id:
        raise NotAllowed("only the recipient themself, admins and services register a recipient")
    if role not in ROLES_BY_CALLER.get(who.role, set()):
        raise NotAllowed(f"a {who.role.value} may not register as {role!r}", field="body.role")
