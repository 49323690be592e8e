"""The intake service's timer kinds: one constant each, with what schedules it and what fires it."""

from __future__ import annotations

from typing import Final

CHECK_IN_EXPIRY: Final = "check-in-expiry"
"""An unanswered check-in expires as missed.

Scheduled by `commands/open_check_in.py` (on `check-in-due`) for `due_at` plus
`INTAKE_CHECK_IN_EXPIRY_DAYS`, one per check-in (`check_in_expiry_timer_id`), with the
payload `{"check_in_id": ...}`; fired by `handlers/on_check_in_expiry_timer.py`.
"""


def check_in_expiry_timer_id(check_in_id: str) -> str:
    """The one expiry timer of a check-in: scheduling it again (a redelivery) is a no-op."""
    return f"check-in-expiry:{check_in_id}"
