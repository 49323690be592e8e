"""The shared journal as appends: one small insert per entry, read by `_id`, pruned aside."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from services.matching.store import journal
from services.matching.store.read_model import Directory
from services.matching.store.therapists import put_profile
from shared.storage import Document
from tests.support.fakes import InMemoryDocuments, ManualClock
from tests.unit.matching.builders import profile

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


class Journal(InMemoryDocuments):
    """A journal store that counts its round trips; inserts take a moment, as a database's
    do (so two replicas can both decide on a version before either lands); `fail_on` fails one."""

    def __init__(self, fail_on: int | None = None) -> None:
        super().__init__("directory")
        self.calls: Counter[str] = Counter()
        self.fail_on = fail_on

    async def get(self, document_id: str) -> Document | None:
        self.calls["get"] += 1
        return await super().get(document_id)

    async def insert_many(self, documents: Sequence[Mapping[str, Any]]) -> set[str]:
        self.calls["insert_many"] += 1
        await asyncio.sleep(0.01)
        if self.calls["insert_many"] == self.fail_on:
            raise ConnectionError("the database went away")
        return await super().insert_many(documents)

    def entries(self) -> dict[int, Document]:
        return {d["v"]: d for i, d in self.documents.items() if i.startswith("j:")}


class Scanned(InMemoryDocuments):
    """Therapists or outcomes, counting full reads (a directory load scans each once)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.scans = 0

    async def find(self, query: Mapping[str, Any], **kwargs: Any) -> list[Document]:
        self.scans += 1
        return await super().find(query, **kwargs)


class Shared:
    """The stores several replicas share, and a clock to move."""

    def __init__(self, store: Journal | None = None) -> None:
        self.journal = store or Journal()
        self.therapists = Scanned("therapists")
        self.outcomes = Scanned("outcomes")
        self.clock = ManualClock(NOW)

    def replica(self, instance: str, *, keep: int = 500, reload_seconds: float = 900.0) -> Directory:
        return Directory(
            self.therapists,
            self.outcomes,
            self.journal,
            instance=instance,
            clock=self.clock,
            journal_length=keep,
            reload_seconds=reload_seconds,
        )

    async def therapist(self, replica: Directory, therapist_id: str) -> None:
        await self.therapists.insert({"_id": therapist_id, "revision": 1})
        await replica.record([journal.ref(journal.THERAPISTS, therapist_id)])


def refs_in(store: Journal) -> set[str]:
    return {ref for entry in store.entries().values() for ref in entry["refs"]}


async def test_changes_recorded_while_an_append_is_written_share_the_next_append() -> None:
    shared = Shared()
    names = shared.replica("r1")
    refs = [journal.ref(journal.THERAPISTS, f"t-{n}") for n in range(20)]

    await asyncio.gather(*(names.record([ref]) for ref in refs))

    assert refs_in(shared.journal) == set(refs)
    assert shared.journal.calls["insert_many"] == 2, "the first change alone, then everything behind it"
    assert sorted(shared.journal.entries()) == [1, 2]


async def test_every_caller_whose_ids_a_failed_append_carried_hears_of_the_failure() -> None:
    shared = Shared(Journal(fail_on=2))
    names = shared.replica("r1")

    outcomes = await asyncio.gather(
        names.record(["therapists/t-1"]),
        names.record(["therapists/t-2"]),
        names.record(["therapists/t-3"]),
        return_exceptions=True,
    )
    await names.record(["therapists/t-4"])

    assert outcomes[0] is None
    assert all(isinstance(o, ConnectionError) for o in outcomes[1:]), "both shared the failed append"
    assert refs_in(shared.journal) == {"therapists/t-1", "therapists/t-4"}


async def test_an_append_is_one_insert_and_a_catch_up_with_nothing_new_one_lookup() -> None:
    shared = Shared()
    names = shared.replica("r1")
    await names.current()
    shared.journal.calls.clear()

    await names.record(["therapists/t-1"])
    assert shared.journal.calls == {"insert_many": 1}, "an append right after what it read: no reads"
    await names.current()
    assert shared.journal.calls == {"insert_many": 1, "get": 1}, "its own entry is never read back"
    assert names.version == 1


async def test_a_ranking_reuses_a_catch_up_begun_within_its_window_and_not_one_older() -> None:
    shared = Shared()
    names = shared.replica("r1")
    await names.current()
    shared.journal.calls.clear()

    await names.current(fresh_within=60)
    assert shared.journal.calls == {}, "the load a moment ago looked: no lookup"
    await names.current()
    assert shared.journal.calls == {"get": 1}, "asked to catch up: it does"
    await asyncio.sleep(0.02)
    await names.current(fresh_within=0.01)
    assert shared.journal.calls == {"get": 2}, "a catch-up older than the window: looked again"


async def test_a_ranking_in_its_window_misses_another_replicas_change_until_it_catches_up() -> None:
    shared = Shared()
    writer, reader = shared.replica("r1"), shared.replica("r2")
    await reader.current()
    await writer.upsert_therapist("t-new", put_profile(profile(), NOW))

    assert (await reader.current(fresh_within=60)).get("t-new") is None, "a moment stale, as allowed"
    assert (await reader.current()).get("t-new") is not None


async def test_two_replicas_appending_at_once_both_land_in_consecutive_entries() -> None:
    shared = Shared()
    first, second = shared.replica("r1"), shared.replica("r2")
    await asyncio.gather(first.current(), second.current())
    await shared.therapists.insert({"_id": "t-a", "revision": 1})
    await shared.therapists.insert({"_id": "t-b", "revision": 1})

    await asyncio.gather(first.record(["therapists/t-a"]), second.record(["therapists/t-b"]))

    entries = shared.journal.entries()
    assert sorted(entries) == [1, 2]
    assert {entries[1]["by"], entries[2]["by"]} == {"r1", "r2"}
    assert refs_in(shared.journal) == {"therapists/t-a", "therapists/t-b"}
    for replica in (first, second):
        await replica.current()
        assert replica.version == 2


async def test_a_reader_stops_at_the_first_missing_version_and_reads_it_next_time() -> None:
    shared = Shared()
    reader = shared.replica("reader")
    await reader.current()
    await shared.journal.insert(journal.entry(1, ["therapists/t-1"], by="w1", at=NOW))
    await shared.journal.insert(journal.entry(3, ["therapists/t-3"], by="w3", at=NOW))  # 2 not landed yet

    await reader.current()
    assert reader.version == 1, "version 3 waits for version 2"

    await shared.journal.insert(journal.entry(2, ["therapists/t-2"], by="w2", at=NOW))
    await reader.current()
    assert reader.version == 3


async def test_a_replica_learns_of_therapists_another_added_and_removed_before_it_ranks() -> None:
    shared = Shared()
    writer, reader = shared.replica("r1"), shared.replica("r2")
    await writer.upsert_therapist("t-gone", put_profile(profile(), NOW))
    await reader.current()
    assert reader.index.get("t-gone") is not None

    await writer.upsert_therapist("t-new", put_profile(profile(), NOW))
    await shared.therapists.delete("t-gone")
    await writer.record(["therapists/t-gone"])
    await reader.current()

    assert reader.index.get("t-new") is not None and reader.index.get("t-gone") is None
    assert reader.version == 3


async def test_a_load_starts_at_the_journals_last_version_without_reading_every_entry() -> None:
    shared = Shared()
    for version in range(1, 41):
        await shared.journal.insert(journal.entry(version, [f"therapists/t-{version}"], by="w", at=NOW))
    latecomer = shared.replica("late")

    await latecomer.current()

    assert latecomer.version == 40
    assert shared.journal.calls["get"] <= 16, "a doubling search, not a walk through 40 entries"


async def test_a_replica_further_behind_than_the_journal_keeps_reloads_everything() -> None:
    shared = Shared()
    writer, reader = shared.replica("r1", keep=3), shared.replica("r2", keep=3)
    await asyncio.gather(writer.current(), reader.current())
    scans = shared.therapists.scans
    for n in range(5):
        await shared.therapist(writer, f"t-{n}")

    await reader.current()

    assert shared.therapists.scans == scans + 1
    assert reader.version == 5


async def test_pruning_deletes_only_entries_beyond_the_last_kept_and_older_than_retained() -> None:
    shared = Shared()
    store = journal.Journal(shared.journal)
    for version in range(1, 11):
        written = NOW if version <= 5 else NOW + timedelta(minutes=10)
        await shared.journal.insert(journal.entry(version, ["therapists/t"], by="w", at=written))

    pruned = await store.prune(tip=10, keep=2, written_before=NOW + timedelta(minutes=5), now=NOW)

    assert pruned == 5, "6..8 are beyond the last two but too recent"
    assert sorted(shared.journal.entries()) == [6, 7, 8, 9, 10]
    assert await store.floor() == 6
    assert await store.prune(tip=10, keep=2, written_before=NOW + timedelta(minutes=5), now=NOW) == 0
    assert await store.tip() == 10


async def test_a_replica_idle_past_the_pruned_entries_reloads_instead_of_missing_them() -> None:
    shared = Shared()
    writer, idle = shared.replica("r1", keep=3, reload_seconds=60), shared.replica("r2", reload_seconds=60)
    await idle.current()
    await shared.therapist(writer, "t-missed")
    for n in range(9):
        await shared.therapist(writer, f"t-{n}")
    shared.clock.advance(timedelta(minutes=5))
    for n in range(3):
        await shared.therapist(writer, f"t-late-{n}")
    assert (
        await journal.Journal(shared.journal).prune(
            tip=13, keep=3, written_before=shared.clock() - timedelta(minutes=2), now=shared.clock()
        )
        == 10
    )
    scans = shared.therapists.scans

    await idle.current()

    assert shared.therapists.scans == scans + 1, "below the floor: everything again"
    assert idle.version == 13


async def test_the_periodic_reload_prunes_the_journal() -> None:
    shared = Shared()
    names = shared.replica("r1", keep=3, reload_seconds=60)
    for n in range(10):
        await shared.therapist(names, f"t-{n}")
    shared.clock.advance(timedelta(minutes=5))
    await shared.therapist(names, "t-late")

    await names.current()  # due for a reload: starts it in the background
    for _ in range(100):
        if len(shared.journal.entries()) == 3:
            break
        await asyncio.sleep(0)

    assert sorted(shared.journal.entries()) == [9, 10, 11]
    await names.record(["therapists/t-late"])
    assert sorted(shared.journal.entries()) == [9, 10, 11, 12]


class Gated(Journal):
    """A journal whose entry reads and inserts, once `gating`, wait until the test lets each one go."""

    def __init__(self) -> None:
        super().__init__()
        self.gating = False
        self.waiting: asyncio.Queue[asyncio.Event] = asyncio.Queue()

    async def _gate(self) -> None:
        if self.gating:
            gate = asyncio.Event()
            self.waiting.put_nowait(gate)
            await gate.wait()

    async def get(self, document_id: str) -> Document | None:
        if document_id.startswith("j:"):
            await self._gate()
        return await super().get(document_id)

    async def insert_many(self, documents: Sequence[Mapping[str, Any]]) -> set[str]:
        await self._gate()
        return await super().insert_many(documents)


async def queued_behind(store: Gated, *calls: Any) -> list[asyncio.Task[Any]]:
    """Start the first call and hold it inside the journal, then start the others behind it."""
    first = asyncio.create_task(calls[0])
    running = await store.waiting.get()
    others = [asyncio.create_task(call) for call in calls[1:]]
    await asyncio.sleep(0)  # they join the next run
    running.set()
    await first
    return others


async def test_a_caller_cancelled_while_reading_the_journal_for_others_leaves_them_to_read_it() -> None:
    store = Gated()
    names = Shared(store).replica("r1")
    await names.current()
    store.gating = True

    runner, joined = await queued_behind(store, names.current(), names.current(), names.current())
    await store.waiting.get()  # the runner reads for both
    runner.cancel()
    (await store.waiting.get()).set()  # the other reads again, itself

    assert (await joined) is names.index
    assert runner.cancelled()


async def test_a_caller_cancelled_while_appending_for_others_leaves_their_changes_to_be_appended() -> None:
    store = Gated()
    names = Shared(store).replica("r1")
    await names.current()
    store.gating = True

    runner, joined = await queued_behind(
        store, names.record(["therapists/a"]), names.record(["therapists/b"]), names.record(["therapists/c"])
    )
    await store.waiting.get()  # the runner appends b and c
    runner.cancel()
    (await store.waiting.get()).set()  # c is appended again, by its own caller

    await joined
    assert runner.cancelled()
    assert refs_in(store) == {"therapists/a", "therapists/c"}


async def test_a_therapist_written_while_the_first_load_scans_is_not_dropped_by_it() -> None:
    """The load at start runs in the background: a scan that read the collection before a
    therapist was registered must not take that therapist out of the index it replaces."""
    shared = Shared()
    names = shared.replica("r1")
    scanned, go_on = asyncio.Event(), asyncio.Event()
    scan = shared.therapists.find

    async def slow_scan(query: Mapping[str, Any], **kwargs: Any) -> list[Document]:
        found = await scan(query, **kwargs)  # read before the therapist is written
        scanned.set()
        await go_on.wait()
        return found

    shared.therapists.find = slow_scan  # type: ignore[method-assign]
    loading = asyncio.create_task(names.current())
    await scanned.wait()
    written = await shared.therapists.upsert("t-1", put_profile(profile(), NOW))
    names.apply(journal.THERAPISTS, written)  # as `upsert_therapist` does before it records
    go_on.set()
    index = await loading

    assert index.get("t-1") is not None
