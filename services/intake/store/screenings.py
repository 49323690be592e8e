"""A screen's result as an intake and a check-in both keep it: scores, bands, risk tier and its reasons.

    {phq9: {total, severity, item9}, gad7: {total, severity}, risk_level, risk_reasons}

Codes and numbers only, never the answers; a second submit or answer returns it unchanged.
"""

from __future__ import annotations

from typing import Any

from services.intake.domain.risk import RiskScreen
from services.intake.domain.scoring import Gad7Score, Phq9Score


def screening_document(phq9: Phq9Score, gad7: Gad7Score, risk: RiskScreen) -> dict[str, Any]:
    return {
        "phq9": {"total": phq9.total, "severity": phq9.severity, "item9": phq9.item9},
        "gad7": {"total": gad7.total, "severity": gad7.severity},
        "risk_level": risk.level.value,
        "risk_reasons": list(risk.reasons),
    }
