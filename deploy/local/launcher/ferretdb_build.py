"""FerretDB, built once with Go from a tiny main (deploy/local/ferretdb) and a patched module.

The patches (deploy/local/ferretdb/*.patch, applied in name order):
- id-index.patch makes FerretDB 1.24.2's SQLite backend query `_id` under the same expression
  as its unique `_id` index; as shipped, every lookup, update and delete by `_id` scans the
  whole table, so the local database slowed down as collections grew;
- no-debug-formatting.patch formats FerretDB's per-statement debug lines only when debug
  logging is on (slog's `With` formatted each statement's arguments, a whole document, twice,
  to be thrown away: about a seventh of FerretDB's CPU on the journey bench);
- no-leak-tracking.patch turns off the leak tracking of cursors and iterators (a pprof
  stack and a finalizer per object: about a tenth of FerretDB's CPU on the journey bench);
- pool-deadlock.patch closes each statement's iterator of an `update` batch when that
  statement is done, not when the batch is: a batch of a hundred statements held every
  pooled SQLite connection of its database, and then every request to it hung for good;
- sjson-decoding.patch reads a stored document back without a json.Decoder per value (each
  string and number of a document had its own, with its buffer): strings and integers
  directly, the rest with go-json (FerretDB's CPU per intake on the journey bench: about a sixth less);
- write-atomicity.patch runs each update, delete and findAndModify statement's query and write
  under one lock per collection, so a conditional write is atomic as on MongoDB (two could both
  match and both write, one of them lost), and serves a filter holding an `_id` equality among
  other conditions from the `_id` index (it read the whole collection).
The module is copied out of the Go module cache into a build folder, patched there, and
used through a `replace` directive; the committed sources are never modified.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

from deploy.local.launcher.artifacts import CachedArtifact, run_build_step, sources_digest
from deploy.local.launcher.errors import LauncherError
from deploy.local.launcher.layout import FERRETDB_SOURCES, Layout
from deploy.local.launcher.patches import apply_unified_diff
from deploy.local.launcher.report import say

MODULE = "github.com/FerretDB/FerretDB"
PATCHES = (
    "id-index.patch",
    "no-debug-formatting.patch",
    "no-leak-tracking.patch",
    "pool-deadlock.patch",
    "sjson-decoding.patch",
    "write-atomicity.patch",
)
INPUTS = ("main.go", "go.mod", "go.sum")
PATCHED_COPY = "FerretDB"  # folder of the patched module inside the build folder


def ferretdb_version() -> str:
    """go.mod is the single source of truth for the FerretDB version."""
    go_mod = (FERRETDB_SOURCES / "go.mod").read_text(encoding="utf-8")
    found = re.search(rf"{re.escape(MODULE)}\s+(v[0-9][^\s]*)", go_mod)
    if found is None:
        raise LauncherError(f"no {MODULE} requirement in {FERRETDB_SOURCES / 'go.mod'}")
    return found.group(1)


def ferretdb_binary(layout: Layout) -> CachedArtifact:
    """Keyed by version; the stamp covers the Go sources and the patches, so editing any rebuilds."""
    home = layout.cache / "ferretdb" / ferretdb_version()
    inputs = [FERRETDB_SOURCES / name for name in (*INPUTS, *PATCHES)]
    return CachedArtifact(home / "ferretdb", home / ".complete", sources_digest(*inputs))


def build_ferretdb(go: str, binary: CachedArtifact) -> None:
    """Build into a temporary name first, so a failed build never looks cached."""
    workspace = binary.path.parent / "build"
    staging = binary.path.with_name(binary.path.name + ".partial")
    say(f"building FerretDB {ferretdb_version()} with Go (first time only, a minute or two)...")
    started = time.monotonic()
    env = dict(os.environ, GOFLAGS="-mod=mod", CGO_ENABLED="0")  # its SQLite driver is pure Go
    prepare_workspace(go, workspace, env)
    run_build_step(
        "building FerretDB with Go",
        [go, "build", "-trimpath", "-buildvcs=false", "-o", str(staging), "."],
        cwd=workspace,
        env=env,
    )
    staging.replace(binary.path)
    binary.mark_fresh()
    say(f"FerretDB built into {binary.path} ({time.monotonic() - started:.0f} s)")


def prepare_workspace(go: str, workspace: Path, env: dict[str, str]) -> None:
    """The committed main and go.mod, plus the patched module they are pointed at."""
    shutil.rmtree(workspace, ignore_errors=True)
    workspace.mkdir(parents=True)
    for name in INPUTS:
        shutil.copyfile(FERRETDB_SOURCES / name, workspace / name)
    module = f"{MODULE}@{ferretdb_version()}"
    answer = run_build_step(
        "downloading FerretDB with Go", [go, "mod", "download", "-json", module], workspace, env
    )
    copy_writable_tree(Path(json.loads(answer)["Dir"]), workspace / PATCHED_COPY)
    for patch in PATCHES:
        apply_unified_diff((FERRETDB_SOURCES / patch).read_text(encoding="utf-8"), workspace / PATCHED_COPY)
    run_build_step(
        "pointing the build at the patched FerretDB",
        [go, "mod", "edit", f"-replace={MODULE}=./{PATCHED_COPY}"],
        workspace,
        env,
    )


def copy_writable_tree(source: Path, target: Path) -> None:
    """Copy a module out of the read-only Go module cache as plain files the build may change."""
    for folder, _, files in os.walk(source):
        destination = target / Path(folder).relative_to(source)
        destination.mkdir(parents=True, exist_ok=True)
        for name in files:
            shutil.copyfile(Path(folder) / name, destination / name)
