"""Intake documents (`intakes`, `_id = intake_id`): sections with free text sealed, then scores.

    {_id, client_id, status: "draft" | "submitted", sections: {...}, created_at,
     updated_at, created_by: {subject, role}, submitted_at?, correlation_id?, result?}

`sections` holds what the client gave, in the shape of `IntakeSections`, except that the
history section is one sealed value and each goal's description is sealed on its own
(goal codes stay readable: they go out in `intake-completed`). `result` is what
submission computed (scores, bands, risk tier and its reason codes): a second submit
returns it unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.intake.domain.crisis import Whereabouts
from services.intake.domain.intake import IntakeSections
from services.intake.store.sealing import seal, seal_json, unseal, unseal_json
from shared.ports import Documents
from shared.security.field_encryption import FieldCipher
from shared.storage import Document


def _history_context(intake_id: str) -> str:
    return f"intakes/{intake_id}/history"


def _goal_context(intake_id: str, code: str) -> str:
    return f"intakes/{intake_id}/goals/{code}/description"


def sealed_sections(
    sections: IntakeSections, fields: Iterable[str], *, intake_id: str, cipher: FieldCipher
) -> Document:
    """The given `fields` of `sections` in stored form (None clears a section)."""
    data: Document = sections.model_dump(mode="json", include=set(fields))
    if data.get("history") is not None:
        data["history"] = {"sealed": seal_json(cipher, data["history"], context=_history_context(intake_id))}
    if data.get("goals") is not None:
        data["goals"] = [
            {
                **goal,
                "description": seal(
                    cipher, goal["description"], context=_goal_context(intake_id, goal["code"])
                ),
            }
            for goal in data["goals"]
        ]
    return data


def opened_sections(stored: Mapping[str, Any], *, intake_id: str, cipher: FieldCipher) -> IntakeSections:
    """The sections as the client gave them, free text decrypted."""
    data = {name: value for name, value in stored.items() if value is not None}
    if "history" in data:
        data["history"] = unseal_json(cipher, data["history"]["sealed"], context=_history_context(intake_id))
    if "goals" in data:
        data["goals"] = [
            {
                **goal,
                "description": unseal(
                    cipher, goal.get("description"), context=_goal_context(intake_id, goal["code"])
                ),
            }
            for goal in data["goals"]
        ]
    return IntakeSections.model_validate(data)


def opened_goals(intake: Document, cipher: FieldCipher) -> list[dict[str, Any]]:
    """The intake's goals, descriptions decrypted, and nothing else of it opened."""
    intake_id = str(intake["_id"])
    return [
        {
            "code": str(goal["code"]),
            "kind": goal.get("kind"),
            "description": unseal(
                cipher, goal.get("description"), context=_goal_context(intake_id, str(goal["code"]))
            ),
        }
        for goal in intake["sections"].get("goals") or []
    ]


def whereabouts_of(intake: Document | None) -> Whereabouts:
    """Where the intake says the client lives and what they read (nothing known: the fallback)."""
    sections = intake["sections"] if intake is not None else {}
    return Whereabouts.of(sections.get("jurisdiction"), sections.get("languages"))


async def client_of(intakes: Documents, intake_id: str) -> str | None:
    """Whose intake it is (None: no such intake): the key its free text is sealed with."""
    found = await intakes.get(intake_id)
    return None if found is None else str(found["client_id"])


async def latest_submitted(intakes: Documents, intake_ids: Iterable[str]) -> Document | None:
    """The client's most recent submitted intake: the baseline and journey of their care.

    Reads the record's intake ids newest first, by `_id`; a client has a handful at most.
    """
    for intake_id in reversed(list(intake_ids)):
        found = await intakes.get(intake_id)
        if found is not None and found.get("status") == "submitted":
            return found
    return None
