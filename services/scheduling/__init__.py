"""scheduling: availability rules, sessions and series, care cadence, durable timers.

Consumes match-proposed, match-accepted, match-declined; produces session-booked,
session-rescheduled, session-cancelled, booking-failed, check-in-due,
therapist-availability-changed (DESIGN §1).
Built on `shared/` in its own issue; it has no entry point (`__main__.py`) yet.
"""
