"""Scheduling's durable timer kinds (`shared/storage/timers.py`), one per rhythm of a client's care.

Both are scheduled by the care record's unit of work (`store/clients.py`) whenever a write
leaves the record naming a timer of that kind (its id names the client and the due time, so
scheduling it again is a no-op), and cancelled there when a write replaces it. Registered
in `app.py`.
"""

from __future__ import annotations

SERIES = "series"
"""Book the client's series up to its horizon. Named by the record once the plan started the
series (due at once), then every `series_extend_every`; fired by `handlers/on_series_timer.py`
(`commands/book_series.py`)."""

CHECK_IN = "check-in"
"""A check-in falls due (`check-in-due`). Named by the record once the plan started the
check-ins, then one plan interval after each; fired by `handlers/on_check_in_timer.py`
(`commands/fire_check_in.py`)."""
