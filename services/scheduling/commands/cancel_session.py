"""Cancel a session (client, clinician or admin); the slot is freed.

The status follows the policy of `domain/cancellation.py`: a client's cancellation
within the late window is `late_cancelled`, a clinician's is `clinician_cancelled`.
The session's claims are released once the cancellation is stored, so the slot can be
booked again at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.scheduling.context import SchedulingContext
from services.scheduling.domain.cancellation import CancelledBy, cancellation_status, check_cancellable
from services.scheduling.domain.care import Care, Session
from services.scheduling.domain.events import session_cancelled
from services.scheduling.store.clients import Decision, write_care


@dataclass(frozen=True, slots=True)
class CancelSession:
    """Cancel `session` (as the caller found it) on behalf of `by`, for `reason` (a code)."""

    session: Session
    by: CancelledBy
    reason: str | None


async def cancel_session(command: CancelSession, ctx: SchedulingContext) -> Session:
    session_id = command.session.session_id

    def decide(care: Care) -> Decision:
        now = ctx.now()
        current = care.known_session(session_id)
        check_cancellable(current.status, current.starts_at, now)
        status = cancellation_status(
            command.by, current.starts_at, now, late_window=ctx.policy.late_cancel_window
        )
        done = current.cancelled(status=status, by=command.by, reason=command.reason, now=now)
        care = care.with_sessions(done)
        return Decision(care, [session_cancelled(done, care, cause=None, now=now)])

    care = await write_care(
        ctx, command.session.client_id, decide, claims={session_id: command.session.claims}
    )
    return care.known_session(session_id)
