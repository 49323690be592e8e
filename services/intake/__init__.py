"""intake: drafts and submitted intakes, PHQ-9/GAD-7/C-SSRS assessments, goals, check-in answers.

Consumes check-in-due; produces intake-completed, risk-flagged, check-in-completed (DESIGN §1).
Built on `shared/` in its own issue; it has no entry point (`__main__.py`) yet.
"""
