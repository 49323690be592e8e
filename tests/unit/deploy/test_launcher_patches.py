"""The FerretDB patches: applied exactly, or not at all, without `patch` or git."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local.launcher.ferretdb_build import PATCHES
from deploy.local.launcher.layout import FERRETDB_SOURCES
from deploy.local.launcher.patches import PatchError, apply_unified_diff, parse_unified_diff

SHIPPED = """\
const (
	// DefaultColumn is a column name for all fields.
	DefaultColumn = backends.ReservedPrefix + "sjson"

	// IDColumn is a SQLite path expression for _id field.
	IDColumn = DefaultColumn + "->'$._id'"

	// RecordIDColumn is a name for RecordID column to store capped collection record id.
	RecordIDColumn = backends.ReservedPrefix + "record_id"
)
"""
TARGET = Path("internal/backends/sqlite/metadata/metadata.go")
PATCH = FERRETDB_SOURCES / "id-index.patch"
LEAK_TRACKING = FERRETDB_SOURCES / "no-leak-tracking.patch"
RESOURCE = Path("internal/util/resource/resource.go")
POOL_DEADLOCK = FERRETDB_SOURCES / "pool-deadlock.patch"
UPDATE_HANDLER = Path("internal/handler/msg_update.go")
UPDATE_LOOP_SHIPPED = """\
		closer := iterator.NewMultiCloser()
		defer closer.Close()

		closer.Add(res.Iter)

		iter := common.FilterIterator(res.Iter, closer, u.Filter)

		if !u.Multi {
			iter = common.LimitIterator(iter, closer, 1)
		}

		result, err := common.UpdateDocument(ctx, c, "update", iter, &u)
		if err != nil {
			return 0, 0, nil, lazyerrors.Error(err)
		}
"""
RESOURCE_SHIPPED = """\
// profilesM protects access to profiles.
var profilesM sync.Mutex

func Track(obj any, token *Token) {
	checkArgs(obj, token)

	name := profileName(obj)
}

func Untrack(obj any, token *Token) {
	checkArgs(obj, token)

	p := pprof.Lookup(profileName(obj))
}
"""


def shipped_tree(root: Path, text: str = SHIPPED, target: Path = TARGET) -> Path:
    (root / target).parent.mkdir(parents=True)
    (root / target).write_text(text)
    return root / target


def patched_source(root: Path, patch: Path, target: Path, shipped: str) -> str:
    """`target` as shipped (`shipped`), after the committed `patch`."""
    file = shipped_tree(root, shipped, target)
    apply_unified_diff(patch.read_text(), root)
    return file.read_text()


def test_the_committed_patch_makes_queries_use_the_index_expression(tmp_path: Path) -> None:
    target = shipped_tree(tmp_path)
    assert apply_unified_diff(PATCH.read_text(), tmp_path) == [target]
    patched = target.read_text()
    assert """IDColumn = DefaultColumn + "->'_id'\"""" in patched
    assert "$._id" not in patched
    assert "RecordIDColumn = backends.ReservedPrefix" in patched


def test_the_explanation_above_the_diff_is_not_read_as_a_change() -> None:
    (only,) = parse_unified_diff(PATCH.read_text())
    assert only.path == str(TARGET)
    assert len(only.hunks) == 1


def test_a_release_where_the_lines_changed_is_refused_and_left_untouched(tmp_path: Path) -> None:
    target = shipped_tree(tmp_path, SHIPPED.replace("'$._id'", "'$.id'"))
    with pytest.raises(PatchError, match="matches nowhere"):
        apply_unified_diff(PATCH.read_text(), tmp_path)
    assert "'$.id'" in target.read_text()


def test_a_hunk_that_would_match_twice_is_refused(tmp_path: Path) -> None:
    shipped_tree(tmp_path, SHIPPED + SHIPPED)
    with pytest.raises(PatchError, match="matches 2 times"):
        apply_unified_diff(PATCH.read_text(), tmp_path)


def test_a_diff_without_hunks_is_refused() -> None:
    with pytest.raises(PatchError, match="no file with a hunk"):
        parse_unified_diff("just words\n")


def test_empty_context_lines_without_their_space_still_match(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("a\n\nb\n")
    diff = "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n a\n\n-b\n+c\n"
    apply_unified_diff(diff, tmp_path)
    assert (tmp_path / "f.txt").read_text() == "a\n\nc\n"


def test_the_build_applies_every_committed_patch_in_order() -> None:
    assert PATCHES == (
        "id-index.patch",
        "no-debug-formatting.patch",
        "no-leak-tracking.patch",
        "pool-deadlock.patch",
        "sjson-decoding.patch",
        "write-atomicity.patch",
    )
    assert all((FERRETDB_SOURCES / name).is_file() for name in PATCHES)


def test_the_leak_tracking_patch_makes_track_and_untrack_return_before_any_bookkeeping(
    tmp_path: Path,
) -> None:
    patched = patched_source(tmp_path, LEAK_TRACKING, RESOURCE, RESOURCE_SHIPPED)
    assert "const leakTracking = false" in patched
    track, untrack = patched.split("func Track")[1].split("func Untrack")
    for body, bookkeeping in ((track, "name := profileName(obj)"), (untrack, "p := pprof.Lookup")):
        assert body.index("if !leakTracking {") < body.index(bookkeeping)


def test_the_pool_patch_closes_each_update_statements_iterator_before_the_next_statement(
    tmp_path: Path,
) -> None:
    patched = patched_source(tmp_path, POOL_DEADLOCK, UPDATE_HANDLER, UPDATE_LOOP_SHIPPED)
    assert "defer closer.Close()" not in patched  # not held until the whole batch is done
    assert (
        patched.index("common.UpdateDocument(")
        < patched.index("closer.Close()")
        < patched.index("if err != nil")
    )


def test_the_atomicity_patch_locks_every_statement_that_reads_then_writes_and_pushes_down_id() -> None:
    files = {f.path: f for f in parse_unified_diff((FERRETDB_SOURCES / "write-atomicity.patch").read_text())}

    for handler in ("msg_update.go", "msg_delete.go", "msg_findandmodify.go"):
        added = "".join(h.new for h in files[f"internal/handler/{handler}"].hunks)
        assert "LockCollectionWrites(params.DB, params.Collection)" in added, handler
    query = "".join(h.new for h in files["internal/backends/sqlite/collection.go"].hunks)
    assert 'params.Filter.Has("_id")' in query and "params.Filter.Len() == 1" not in query


def test_the_debug_formatting_patch_guards_every_debug_line_of_the_sql_helpers(tmp_path: Path) -> None:
    """Each file is rebuilt from the old side of its hunks (the shipped lines the patch anchors
    on); after the patch, every statement's debug line is formatted only when debug is on."""
    patch = (FERRETDB_SOURCES / "no-debug-formatting.patch").read_text()
    files = parse_unified_diff(patch)
    assert sorted(file.path for file in files) == ["internal/util/fsql/db.go", "internal/util/fsql/tx.go"]
    for file in files:
        (tmp_path / file.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / file.path).write_text("".join(f"// hunk {n}\n{h.old}" for n, h in enumerate(file.hunks)))
    apply_unified_diff(patch, tmp_path)
    for file in files:
        lines = (tmp_path / file.path).read_text().splitlines()
        debug_lines = [i for i, line in enumerate(lines) if ".l.With(fields...).DebugContext" in line]
        assert len(debug_lines) == 6  # ">>>" and "<<<" of each of the three helpers
        for i in debug_lines:
            assert lines[i - 1].strip().endswith("{ // Carepath: see no-debug-formatting.patch")
            assert ".l.Enabled(ctx, slog.LevelDebug)" in lines[i - 1]


def test_the_sjson_patch_reads_every_value_without_a_decoder_of_its_own() -> None:
    files = {f.path: f for f in parse_unified_diff((FERRETDB_SOURCES / "sjson-decoding.patch").read_text())}
    values = ["array", "binary", "bool", "datetime", "document", "double", "int32", "int64"]
    values += ["object_id", "regex", "string", "timestamp"]
    for name in values:
        file = files[f"internal/handler/sjson/{name}.go"]
        removed = "".join(h.old for h in file.hunks)
        added = "".join(h.new for h in file.hunks)
        assert "json.NewDecoder(r)" in removed and "NewDecoder" not in added, name
        assert "unmarshalValue(data, &" in added, name
    top_level = "".join(h.new for h in files["internal/handler/sjson/sjson.go"].hunks)
    assert "func unmarshalValue(data []byte, v any) error" in top_level
    assert "gojson.Unmarshal(data, v)" in top_level
