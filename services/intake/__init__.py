"""intake: the client's clinical record.

Drafts and submitted intakes (history, goals, preferences, availability, PHQ-9, GAD-7,
C-SSRS screener), the versioned treatment plan and check-ins. Consumes check-in-due and
the events of the care relationship (match-proposed, match-accepted, match-declined,
session-booked, session-attendance-recorded), which decide who reads the record; produces
intake-completed, risk-flagged, treatment-plan-updated, check-in-completed and
check-in-missed (DESIGN §1, §2). Run with `python -m services.intake`.
"""
