"""What matching's commands and handlers work with: its stores, read model, timers, clock, policy.

Built once in `app.py` from the runtime's stores; unit tests build it from the in-memory
fakes of `tests/support/fakes.py`. Typed with the ports of `shared/ports.py`, so nothing
here knows whether it talks to MongoDB.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from services.matching.domain.scoring import DEFAULT_WEIGHTS
from services.matching.store import journal
from services.matching.store.read_model import Directory
from shared.ports import Clock, Documents, Timers
from shared.storage.documents import Change, Revision


@dataclass(frozen=True, slots=True)
class Policy:
    top_k: int = 3
    proposal_ttl: timedelta = timedelta(hours=24)
    max_proposals_per_intake: int = 10
    waitlist_rematch_per_trigger: int = 20
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    source: str = "matching"


@dataclass(frozen=True, slots=True)
class Matching:
    therapists: Documents
    proposals: Documents
    clients: Documents
    outcomes: Documents
    waitlist: Documents
    directory: Directory
    timers: Timers
    clock: Clock
    policy: Policy = field(default_factory=Policy)

    async def change_therapists(self, changes: Iterable[tuple[str, Change]]) -> dict[str, dict[str, Any]]:
        """Apply each (therapist id, change), keep the read model in step, tell the other replicas.

        Returns the documents as they are now, by therapist id (absent: no such therapist).
        """
        written: dict[str, dict[str, Any]] = {}
        changed: list[str] = []
        for therapist_id, change in changes:
            document = await self.change_therapist(therapist_id, change, changed)
            if document is not None:
                written[therapist_id] = document
        await self.directory.record(journal.ref(journal.THERAPISTS, t) for t in changed)
        return written

    async def change_therapist(
        self, therapist_id: str, change: Change, changed: list[str]
    ) -> dict[str, Any] | None:
        """Apply one change under the therapist's lease and to the read model; the caller
        records `changed` (the ids actually changed) in the journal, once for a batch."""
        document = await self.therapists.update(therapist_id, _noting(change, therapist_id, changed))
        if document is not None:
            self.directory.apply(journal.THERAPISTS, document)  # fresh either way
        return document


def _noting(change: Change, therapist_id: str, changed: list[str]) -> Change:
    """`change`, noting in `changed` when it did change the document (worth a journal entry)."""

    def noted(current: dict[str, Any]) -> Revision | None:
        revision = change(current)
        if revision is not None:
            changed.append(therapist_id)
        return revision

    return noted
