"""intake: the client's clinical record.

Drafts and submitted intakes (history, goals, preferences, availability, PHQ-9, GAD-7,
C-SSRS screener), the versioned treatment plan and check-ins. Consumes check-in-due and
session-booked; produces intake-completed, risk-flagged, treatment-plan-updated and
check-in-completed (DESIGN §1). Run with `python -m services.intake`.
"""
