"""The launcher's FerretDB finds, updates and deletes by `_id` through the `_id` index.

FerretDB 1.24.2 as shipped indexes `_id` as `_ferretdb_sjson->"_id"` but filters on
`_ferretdb_sjson->'$._id'`, which SQLite cannot match to that index, so every write by `_id`
scanned its table; the launcher builds it with deploy/local/ferretdb/id-index.patch. These
tests read the query plans: FerretDB's own `explain` (its real SQL in its own SQLite), and
SQLite's plan for the update and delete statements FerretDB runs, read from its data file.
Skipped where the suite's MongoDB server is not a FerretDB this machine runs from a data
folder (mongod, Docker, a remote server).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.uri_parser import parse_uri

from deploy.local.launcher.processes import command_line, listener_pid
from tests.support.infrastructure import Infrastructure

ID = "_ferretdb_sjson->'_id'"  # the patched IDColumn, the same expression as the index
SHIPPED_ID = "_ferretdb_sjson->'$._id'"  # FerretDB 1.24.2's own IDColumn
# The statements of internal/backends/sqlite/collection.go (UpdateAll, DeleteAll), by IDColumn.
UPDATE_BY_ID = 'UPDATE "{table}" SET _ferretdb_sjson = ? WHERE {id} = ?'
DELETE_BY_IDS = 'DELETE FROM "{table}" WHERE {id} IN (?)'


@pytest.fixture
def ferretdb_data(infrastructure: Infrastructure) -> Path:
    """The folder of FerretDB's SQLite files, read from the command line of the server listening."""
    host, port = parse_uri(infrastructure.mongodb_uri)["nodelist"][0]
    pid = listener_pid(port) if host in ("127.0.0.1", "localhost") else None
    arguments = command_line(pid) if pid is not None else []
    if "-sqlite-url" not in arguments:
        pytest.skip("the suite's MongoDB server is not a local FerretDB started from a data folder")
    return Path(arguments[arguments.index("-sqlite-url") + 1].removeprefix("file:").split("?")[0])


@pytest.fixture
def appointments(infrastructure: Infrastructure) -> Iterator[Collection[dict[str, Any]]]:
    """A new collection in a fresh database, with enough documents that a scan would show."""
    client: MongoClient[dict[str, Any]] = MongoClient(infrastructure.mongodb_uri)
    name = f"test_{uuid.uuid4().hex[:12]}"
    try:
        collection = client[name]["appointments"]
        collection.insert_many([{"_id": f"appointment-{n}", "slot": n} for n in range(500)])
        yield collection
    finally:
        client.drop_database(name)
        client.close()


def sqlite_plan(database: Path, template: str, table: str, id_expression: str, *params: str) -> str:
    """SQLite's plan for one of FerretDB's statements, from a read-only connection (nothing runs)."""
    sql = template.format(table=table, id=id_expression)  # a table name from FerretDB's own metadata
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        return " | ".join(row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def table_of(database: Path, collection: str) -> str:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        (table,) = connection.execute(
            "SELECT table_name FROM _ferretdb_collections WHERE name = ?", (collection,)
        ).fetchone()
    return str(table)


def test_ferretdb_plans_a_find_by_id_as_an_index_search(
    ferretdb_data: Path, appointments: Collection[dict[str, Any]]
) -> None:
    explained = appointments.database.command(
        "explain", {"find": appointments.name, "filter": {"_id": "appointment-7"}}
    )
    plan = " | ".join(explained["queryPlanner"]["Plan"])
    assert "USING INDEX" in plan and "SCAN" not in plan, plan


def test_updates_and_deletes_by_id_search_the_id_index_instead_of_scanning(
    ferretdb_data: Path, appointments: Collection[dict[str, Any]]
) -> None:
    assert appointments.update_one({"_id": "appointment-7"}, {"$set": {"slot": -7}}).modified_count == 1
    assert appointments.find_one({"_id": "appointment-7"}) == {"_id": "appointment-7", "slot": -7}
    if sqlite3.sqlite_version_info < (3, 38):
        pytest.skip(f"Python's SQLite {sqlite3.sqlite_version} predates the -> operator")
    database = ferretdb_data / f"{appointments.database.name}.sqlite"
    table = table_of(database, appointments.name)
    key = '"appointment-7"'  # _id as FerretDB's SQLite JSON holds it

    update = sqlite_plan(database, UPDATE_BY_ID, table, ID, "{}", key)
    delete = sqlite_plan(database, DELETE_BY_IDS, table, ID, key)
    for plan in (update, delete):
        assert "SEARCH" in plan and "USING INDEX" in plan and "SCAN" not in plan, plan
    shipped = sqlite_plan(database, UPDATE_BY_ID, table, SHIPPED_ID, "{}", key)
    assert shipped.startswith("SCAN"), "the unpatched expression scans: this test would see a regression"
