"""The notifications service's timer kinds: what schedules each, and which handler fires it.

A kind is stored with every pending timer (`timers`, the runtime's), so its value never
changes; the names here may.
"""

from __future__ import annotations

DELIVERY = "delivery"
"""A delivery's next attempt, `deliver:{delivery_id}:{attempt}`: when quiet hours end, after a
transient failure's backoff, or at once for a first attempt left undecided by a crash (the
event came again). A first attempt due now has none: `notify` makes it. Scheduled by
`commands/notify.py` and `commands/deliver.py`; fired by `handlers/on_delivery_timer.py`."""

SESSION_REMINDER = "reminder"
"""A session reminder 24 h or 1 h before it starts, `reminder:{session_id}:{24h|1h}`. Set,
moved and cancelled by `commands/sessions.py`; fired by `handlers/on_session_reminder_timer.py`."""

CHECK_IN_REMINDER = "check_in_reminder"
"""An unanswered check-in's one reminder, `check-in-reminder:{check_in_id}`. Set and cancelled
by `commands/check_ins.py`; fired by `handlers/on_check_in_reminder_timer.py`."""

ESCALATION = "escalation"
"""A page of an on-call clinician failed: page the next one if it reached nobody,
`escalate:{delivery_id}:{attempt}`. Scheduled by `commands/deliver.py`; fired by
`handlers/on_escalation_timer.py`."""
