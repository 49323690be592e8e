"""matching: therapist clinical profiles, match proposals, outcome records, availability read model.

Consumes intake-completed, therapist-availability-changed, session-booked, session-cancelled,
session-attendance-recorded, check-in-completed, booking-failed and treatment-plan-updated;
produces match-proposed, match-accepted and match-declined (DESIGN §1). Wired in `app.py`; run as
`python -m services.matching`.
"""
