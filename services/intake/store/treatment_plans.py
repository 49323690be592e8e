"""Treatment plan versions (`treatment_plans`, `_id = "<client_id>:v<n>"`), one document each.

    {_id, client_id, version, therapist_id, status, approach, techniques, goals: [{code,
     target: {measure, comparison, value}, description: <sealed>}], session_cadence,
     check_in_interval_days, review_at, created_at, written_by: {subject, role}}

Versions are never changed, only added: the unique `_id` of version n+1 decides a race
between two writers (one insert wins, the other retries on top of it). The client's
record names the latest version; a record that lags (a crash after the insert) is
caught up by probing the next `_id`s, so the chain of documents stays the truth.
"""

from __future__ import annotations

from typing import Any

from services.intake.domain.plan import PlanGoal, Target
from services.intake.store.sealing import seal, unseal
from shared.ports import Documents
from shared.security.field_encryption import FieldCipher
from shared.storage import Document


def version_id(client_id: str, version: int) -> str:
    return f"{client_id}:v{version}"


def goal_context(client_id: str, version: int, code: str) -> str:
    return f"treatment_plans/{version_id(client_id, version)}/goals/{code}/description"


async def latest_version(plans: Documents, client_id: str, *, known: int = 0) -> int:
    """The newest version number (0: no plan yet), starting from what the record knows."""
    version = known
    while await plans.get(version_id(client_id, version + 1)) is not None:
        version += 1
    return version


async def current_plan(plans: Documents, client_id: str, *, known: int = 0) -> Document | None:
    """The newest version's document (None: no plan yet), starting from what the record knows."""
    version = await latest_version(plans, client_id, known=known)
    return await plans.get(version_id(client_id, version)) if version else None


def plan_goals(document: Document) -> list[PlanGoal]:
    """The goals of a stored version as the domain judges them."""
    goals = document.get("goals", [])
    return [PlanGoal(code=str(goal["code"]), target=Target(**goal["target"])) for goal in goals]


def sealed_goals(
    goals: list[dict[str, Any]], *, client_id: str, version: int, cipher: FieldCipher
) -> list[dict[str, Any]]:
    return [
        {
            **goal,
            "description": seal(
                cipher, goal.get("description"), context=goal_context(client_id, version, goal["code"])
            ),
        }
        for goal in goals
    ]


def opened_plan(document: Document, cipher: FieldCipher) -> Document:
    """The version with its goal descriptions decrypted."""
    client_id, version = str(document["client_id"]), int(document["version"])
    goals = [
        {
            **goal,
            "description": unseal(
                cipher, goal.get("description"), context=goal_context(client_id, version, goal["code"])
            ),
        }
        for goal in document.get("goals", [])
    ]
    return {**document, "goals": goals}
