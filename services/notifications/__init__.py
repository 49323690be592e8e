"""notifications: recipients and preferences, notification log and in-app inbox, reminder timers.

Consumes every event; produces notification-delivered and notification-failed (DESIGN §1).
Built on `shared/` in its own issue; it has no entry point (`__main__.py`) yet.
"""
