"""scheduling: availability rules, sessions and series, care cadence, durable timers.

Consumes match-proposed, match-accepted, match-declined, treatment-plan-updated; produces
session-booked, session-rescheduled, session-cancelled, booking-failed, check-in-due,
therapist-availability-changed (DESIGN §1). Run with `python -m services.scheduling`;
wired in `app.py`; see README.md.
"""
