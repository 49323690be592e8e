"""Cancel a session (client, clinician or admin); the slot is freed.

The status follows the policy of `domain/cancellation.py`: a client's cancellation
within the late window is `late_cancelled`, a clinician's is `clinician_cancelled`.
The session's claims are released once the cancellation is stored, so the slot can be
booked again at once.
"""

from __future__ import annotations

from services.scheduling.commands.context import Scheduling
from services.scheduling.commands.events import session_cancelled
from services.scheduling.commands.record_care import Decision, write_care
from services.scheduling.commands.refusals import conflict, not_found
from services.scheduling.domain.cancellation import (
    CancelledBy,
    NotCancellable,
    cancellation_status,
    check_cancellable,
)
from services.scheduling.domain.care import Care, Session


async def cancel_session(
    ctx: Scheduling, session: Session, *, by: CancelledBy, reason: str | None
) -> Session:
    session_id = session.session_id

    def decide(care: Care) -> Decision:
        now = ctx.now()
        current = _current(care, session_id)
        try:
            check_cancellable(current.status, current.starts_at, now)
        except NotCancellable as refusal:
            raise conflict(refusal.code, str(refusal)) from refusal
        status = cancellation_status(by, current.starts_at, now, late_window=ctx.policy.late_cancel_window)
        done = current.cancelled(status=status, by=by, reason=reason, now=now)
        care = care.with_sessions(done)
        return Decision(care, [session_cancelled(done, care, cause=None, now=now)])

    care = await write_care(ctx, session.client_id, decide, claims={session_id: session.claims})
    return _current(care, session_id)


def _current(care: Care, session_id: str) -> Session:
    found = care.session(session_id)
    if found is None:
        raise not_found("session", session_id)
    return found
