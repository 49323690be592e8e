"""The shared journal: one replica's concurrent changes go into it in grouped appends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from services.matching.store import journal
from services.matching.store.read_model import Directory
from shared.storage import Document
from shared.storage.documents import Creation
from tests.support.fakes import InMemoryDocuments

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


class SlowJournal(InMemoryDocuments):
    """A journal whose writes take a moment, as a database round trip does; `fail_on` fails one."""

    def __init__(self, fail_on: int | None = None) -> None:
        super().__init__("directory")
        self.attempts = 0
        self.fail_on = fail_on

    async def upsert(self, document_id: str, change: Creation, **kwargs: object) -> Document | None:
        self.attempts += 1
        await asyncio.sleep(0.01)
        if self.attempts == self.fail_on:
            raise ConnectionError("the database went away")
        return await super().upsert(document_id, change)


def directory(store: SlowJournal) -> Directory:
    return Directory(
        InMemoryDocuments("therapists"),
        InMemoryDocuments("outcomes"),
        store,
        instance="r1",
        clock=lambda: NOW,
    )


def refs_in(store: SlowJournal) -> set[str]:
    entries = store.documents[journal.JOURNAL_ID]["entries"]
    return {ref for entry in entries for ref in entry["refs"]}


async def test_changes_recorded_while_an_append_is_written_share_the_next_append() -> None:
    store = SlowJournal()
    names = directory(store)
    refs = [journal.ref(journal.THERAPISTS, f"t-{n}") for n in range(20)]

    await asyncio.gather(*(names.record([ref]) for ref in refs))

    assert refs_in(store) == set(refs)
    assert store.attempts == 2, "the first change alone, then everything that queued behind it"
    assert store.documents[journal.JOURNAL_ID]["version"] == 2


async def test_every_caller_whose_ids_a_failed_append_carried_hears_of_the_failure() -> None:
    store = SlowJournal(fail_on=2)
    names = directory(store)

    outcomes = await asyncio.gather(
        names.record(["therapists/t-1"]),
        names.record(["therapists/t-2"]),
        names.record(["therapists/t-3"]),
        return_exceptions=True,
    )
    await names.record(["therapists/t-4"])

    assert outcomes[0] is None
    assert all(isinstance(o, ConnectionError) for o in outcomes[1:]), "both shared the failed append"
    assert refs_in(store) == {"therapists/t-1", "therapists/t-4"}
