"""Who may see a client's record: the client, their clinicians, admins and services.

A clinician is one of the client's when scheduling told us so (`session-booked`, kept in
the client's record). A record addressed by its own id (an intake, a check-in) that the
caller may not see answers 404, exactly like one that does not exist, so ids cannot be
probed; a record addressed by client answers 403.
"""

from __future__ import annotations

from services.intake.store import IntakeStores
from services.intake.store.client_records import client_record, therapists_of
from shared.http.auth import Principal, Role
from shared.http.problems import Problem
from shared.storage import Document


async def client_record_for(who: Principal, client_id: str, stores: IntakeStores) -> Document:
    """The client's record, or 403 when `who` may not act for this client."""
    record = await client_record(stores.clients, client_id)
    if not who.may_act_for_client(client_id, treating_therapist_ids=therapists_of(record)):
        raise Problem(403, "Forbidden", "this client's record is not yours to see")
    return record


async def ensure_visible(
    who: Principal, document: Document | None, stores: IntakeStores, what: str
) -> Document:
    """`document` if it exists and `who` may see its client's record, else 404."""
    if document is not None:
        client_id = str(document["client_id"])
        if who.role is not Role.clinician:  # no clinician list needed to decide
            allowed = who.may_act_for_client(client_id)
        else:
            record = await client_record(stores.clients, client_id)
            allowed = who.may_act_for_client(client_id, treating_therapist_ids=therapists_of(record))
        if allowed:
            return document
    raise Problem(404, "Not Found", f"no such {what}")
