"""matching: therapist clinical profiles, match proposals, outcome records, availability read model.

Consumes intake-completed, therapist-availability-changed, session-booked, check-in-completed,
booking-failed; produces match-proposed, match-accepted, match-declined (DESIGN §1).
Built on `shared/` in its own issue; it has no entry point (`__main__.py`) yet.
"""
