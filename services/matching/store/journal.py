"""The shared journal of directory changes: one document, `_id = "journal"` in `directory`.

    {_id: "journal", version: n, entries: [{v, by, refs: ["therapists/<id>", "outcomes/<id>"]}]}

Replicas of matching share one consumer group, so each consumes only some partitions:
replica A books a client with a therapist, replica B ranks the next intake. A writer
appends the ids of the documents it changed (after changing them); a replica reads this one
document by `_id` before ranking and re-reads by `_id` only what changed since its last
look. The last `journal_length` entries are kept; a replica further behind reloads
everything. Appends take the document's lease (one writer at a time), so versions are
consecutive and no entry is lost to a concurrent append.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from shared.storage import Document
from shared.storage.documents import Creation, Revision

COLLECTION = "directory"
JOURNAL_ID = "journal"
THERAPISTS = "therapists"
OUTCOMES = "outcomes"


def ref(collection: str, document_id: str) -> str:
    return f"{collection}/{document_id}"


def append(refs: Iterable[str], *, by: str, keep: int, now: datetime) -> Creation:
    changed = sorted(set(refs))

    def change(current: Document | None) -> Revision | None:
        if not changed:
            return None
        version = int((current or {}).get("version", 0)) + 1
        entries = [*(current or {}).get("entries", ()), {"v": version, "by": by, "refs": changed}][-keep:]
        return Revision({"version": version, "entries": entries, "updated_at": now})

    return change
