"""A submitted intake as a FHIR R4 Bundle: what an EHR bridge imports.

One `collection` Bundle holds, per instrument (PHQ-9, GAD-7): the QuestionnaireResponse
with every item's answer as its LOINC answer code (LA6568-5 … LA6571-9), an Observation
of the total score (LOINC 44261-6, 70274-6) and an Observation of the panel (44249-1,
69737-5) with the total as its member, both derived from the QuestionnaireResponse.
Entries reference each other by `urn:uuid:` full URLs derived from the intake id, so
exporting the same intake twice gives the same Bundle. Free text never goes in: the
C-SSRS answers and the history stay in the service.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from shared.storage import Document

LOINC: Final = "http://loinc.org"
BUNDLE_NAMESPACE: Final = uuid.UUID("0d5e3f4a-6b1c-4f0e-9a7d-2c8b1e5f3a90")

ANSWERS: Final = (
    ("LA6568-5", "Not at all"),
    ("LA6569-3", "Several days"),
    ("LA6570-1", "More than half the days"),
    ("LA6571-9", "Nearly every day"),
)


class Instrument:
    def __init__(
        self,
        key: str,
        panel: tuple[str, str],
        total: tuple[str, str],
        items: Sequence[tuple[str, str]],
    ) -> None:
        self.key = key
        self.panel = panel
        self.total = total
        self.items = items


PHQ9: Final = Instrument(
    "phq9",
    ("44249-1", "PHQ-9 quick depression assessment panel [Reported.PHQ]"),
    ("44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"),
    (
        ("44250-9", "Little interest or pleasure in doing things"),
        ("44255-8", "Feeling down, depressed, or hopeless"),
        ("44259-0", "Trouble falling or staying asleep, or sleeping too much"),
        ("44254-1", "Feeling tired or having little energy"),
        ("44251-7", "Poor appetite or overeating"),
        (
            "44258-2",
            "Feeling bad about yourself - or that you are a failure or have let yourself or your family down",
        ),
        ("44252-5", "Trouble concentrating on things, such as reading the newspaper or watching television"),
        ("44253-3", "Moving or speaking so slowly that other people could have noticed; or the opposite"),
        ("44260-8", "Thoughts that you would be better off dead, or of hurting yourself in some way"),
    ),
)

GAD7: Final = Instrument(
    "gad7",
    ("69737-5", "Generalized anxiety disorder 7 item (GAD-7)"),
    ("70274-6", "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]"),
    (
        ("69725-0", "Feeling nervous, anxious or on edge"),
        ("68509-9", "Not being able to stop or control worrying"),
        ("69733-4", "Worrying too much about different things"),
        ("69734-2", "Trouble relaxing"),
        ("69735-9", "Being so restless that it is hard to sit still"),
        ("69689-8", "Becoming easily annoyed or irritable"),
        ("69736-7", "Feeling afraid as if something awful might happen"),
    ),
)


def intake_bundle(intake: Document) -> dict[str, Any]:
    """The FHIR R4 Bundle of a submitted intake's PHQ-9 and GAD-7."""
    intake_id, client_id = str(intake["_id"]), str(intake["client_id"])
    when = _instant(intake["submitted_at"])
    entries: list[dict[str, Any]] = []
    for instrument in (PHQ9, GAD7):
        answers: list[int] = intake["sections"][instrument.key]
        total: int = intake["result"][instrument.key]["total"]
        severity: str = intake["result"][instrument.key]["severity"]
        entries += _instrument_entries(instrument, intake_id, client_id, when, answers, total, severity)
    return {
        "resourceType": "Bundle",
        "id": _uuid(intake_id, "bundle"),
        "type": "collection",
        "timestamp": when,
        "identifier": {"system": "urn:carepath:intake", "value": intake_id},
        "entry": entries,
    }


def _instrument_entries(
    instrument: Instrument,
    intake_id: str,
    client_id: str,
    when: str,
    answers: Sequence[int],
    total: int,
    severity: str,
) -> list[dict[str, Any]]:
    response_url = _url(intake_id, instrument.key, "response")
    total_url = _url(intake_id, instrument.key, "total")
    panel_url = _url(intake_id, instrument.key, "panel")
    subject = {"reference": f"Patient/{client_id}"}
    category = [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "survey",
                    "display": "Survey",
                }
            ]
        }
    ]
    response = {
        "resourceType": "QuestionnaireResponse",
        "id": _uuid(intake_id, instrument.key, "response"),
        "questionnaire": f"{LOINC}/q/{instrument.panel[0]}",
        "status": "completed",
        "subject": subject,
        "authored": when,
        "item": [
            _answered_item(code, text, answer)
            for (code, text), answer in zip(instrument.items, answers, strict=True)
        ]
        + [{"linkId": instrument.total[0], "text": instrument.total[1], "answer": [{"valueInteger": total}]}],
    }

    def observation(part: str, concept: tuple[str, str], value: dict[str, Any]) -> dict[str, Any]:
        """An Observation of this instrument derived from its QuestionnaireResponse."""
        return {
            "resourceType": "Observation",
            "id": _uuid(intake_id, instrument.key, part),
            "status": "final",
            "category": category,
            "code": _concept(*concept),
            "subject": subject,
            "effectiveDateTime": when,
            **value,
            "derivedFrom": [{"reference": response_url}],
        }

    total_observation = observation(
        "total", instrument.total, {"valueInteger": total, "interpretation": [{"text": severity}]}
    )
    panel_observation = observation("panel", instrument.panel, {"hasMember": [{"reference": total_url}]})
    return [
        {"fullUrl": response_url, "resource": response},
        {"fullUrl": panel_url, "resource": panel_observation},
        {"fullUrl": total_url, "resource": total_observation},
    ]


def _answered_item(code: str, text: str, answer: int) -> dict[str, Any]:
    answer_code, display = ANSWERS[answer]
    return {
        "linkId": code,
        "text": text,
        "answer": [{"valueCoding": {"system": LOINC, "code": answer_code, "display": display}}],
    }


def _concept(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display}


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(BUNDLE_NAMESPACE, "/".join(parts)))


def _url(*parts: str) -> str:
    return f"urn:uuid:{_uuid(*parts)}"


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
