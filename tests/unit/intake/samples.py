"""Sample intake content and fakes-backed stores for the intake service's unit tests."""

from __future__ import annotations

import os
from typing import Any

from services.intake.store import IntakeStores
from shared.security.field_encryption import FieldCipher
from tests.support.fakes import InMemoryDocuments

BACKGROUND = "Panic attacks since my father's illness; I avoid the train to work."
GOAL_TEXT = "Take the train to work again without a panic attack."


def cipher() -> FieldCipher:
    return FieldCipher({"k1": os.urandom(32)}, "k1")


def stores() -> IntakeStores:
    return IntakeStores(
        clients=InMemoryDocuments("clients"),
        intakes=InMemoryDocuments("intakes"),
        plans=InMemoryDocuments("treatment_plans"),
        check_ins=InMemoryDocuments("check_ins"),
    )


def complete_sections(**overrides: Any) -> dict[str, Any]:
    """Every section of an intake, valid and complete (no risk unless overridden)."""
    sections: dict[str, Any] = {
        "jurisdiction": "US-CA",
        "timezone": "America/Los_Angeles",
        "languages": ["en", "es-MX"],
        "concerns": ["anxiety", "stress"],
        "history": {
            "prior_therapy": True,
            "diagnoses": ["generalized anxiety disorder"],
            "medications": ["sertraline 50 mg"],
            "background": BACKGROUND,
        },
        "goals": [{"code": "reduce_panic", "kind": "specific_issue", "description": GOAL_TEXT}],
        "phq9": [1, 1, 1, 1, 1, 1, 1, 1, 0],
        "gad7": [2, 2, 2, 2, 2, 2, 2],
        "preferences": {"approach": "cbt", "format": "either", "language": "en", "competencies": ["lgbtq"]},
        "availability": [{"day": "tuesday", "start": "09:00", "end": "17:00"}],
    }
    return {**sections, **overrides}


HIGH_RISK = {
    "phq9": [3, 3, 3, 3, 3, 2, 2, 2, 2],
    "cssrs": {"q1": True, "q2": True, "q3": True, "q4": False, "q5": True, "q6_ever": False},
}
