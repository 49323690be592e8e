"""Whether a change to a released event schema would break a consumer (DESIGN §3).

    python -m shared.events.compatibility [--release]

A released `v<major>` schema is a promise to everyone already reading the topic, so the
current schema in `schemas/` is compared with the one released (`schemas/released/`), in
both directions, because both kinds of consumer exist at once:

- a consumer on the new schema reads events already on the topic (retention, a replayed
  dead letter): the change must not *narrow* what is valid (a removed enum value, a
  tighter range, type or pattern, a property made required);
- a consumer still on the released schema reads what the new producer sends: the change
  must not *widen* it either (an added enum value, a looser range, a property no longer
  required), because that consumer validates with closed enums and bounds and would
  dead-letter the new events.

So within a major version only two kinds of change are compatible: adding an optional
property (consumers ignore properties they do not know: `EventData` has
`extra="ignore"`) and changing annotations (titles, descriptions, defaults, examples).
A removed property fails too: a consumer that reads it would silently get nothing.
Anything else is a new major version: a new `ce_type` and schema (`<event>.v2`),
published beside the old one for a while.

Without arguments this prints what breaks and exits 1; `--release` copies the current
schemas over `schemas/released/` (refused while anything breaks), done when a new
`carepath-events` version is released, so the next change is held to what consumers have.
Pattern changes are reported as breaking both ways: whether one regular expression
accepts exactly what another does is not decided here.

Repository tooling: not part of the `carepath-events` distribution.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMAS_DIR = Path(__file__).parent / "schemas"
RELEASED_DIR = SCHEMAS_DIR / "released"

Schema = Mapping[str, Any]

NARROWED = "events already on the topic may no longer be valid"
WIDENED = "consumers on the released schema refuse such events"

ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$schema",
        "$id",
        "$defs",
        "definitions",
    }
)
LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
HANDLED = frozenset(
    {
        "$ref",
        "anyOf",
        "oneOf",
        "type",
        "enum",
        "const",
        "pattern",
        "format",
        "properties",
        "required",
        "additionalProperties",
        "propertyNames",
        "items",
        "uniqueItems",
        *LOWER_BOUNDS,
        *UPPER_BOUNDS,
    }
)
JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}


@dataclass(frozen=True, slots=True)
class Break:
    """One incompatible change, at a JSON Pointer into the schema."""

    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path or '/'}: {self.problem}"


def breaking_changes(released: Schema, current: Schema) -> list[Break]:
    """Every change from `released` to `current` that some consumer would notice."""
    return _Comparison(released, current).schemas(released, current, "")


def check(released_dir: Path = RELEASED_DIR, current_dir: Path = SCHEMAS_DIR) -> dict[str, list[Break]]:
    """Breaking changes per released schema file (a removed file is one, too)."""
    found: dict[str, list[Break]] = {}
    for released_path in sorted(released_dir.glob("*.json")):
        current_path = current_dir / released_path.name
        if not current_path.exists():
            found[released_path.name] = [Break("", "schema removed: its consumers lose the event")]
            continue
        breaks = breaking_changes(_load(released_path), _load(current_path))
        if breaks:
            found[released_path.name] = breaks
    return found


def unreleased(released_dir: Path = RELEASED_DIR, current_dir: Path = SCHEMAS_DIR) -> list[str]:
    """Current schema files with no released baseline yet (new events or new majors)."""
    released = {path.name for path in released_dir.glob("*.json")}
    return sorted(path.name for path in current_dir.glob("*.json") if path.name not in released)


def release(released_dir: Path = RELEASED_DIR, current_dir: Path = SCHEMAS_DIR) -> list[str]:
    """Make the current schemas the released baseline; refuse while any would break."""
    if breaking := check(released_dir, current_dir):
        raise ValueError(f"breaking changes in {', '.join(breaking)}: bump the major version instead")
    released_dir.mkdir(parents=True, exist_ok=True)
    names = sorted(path.name for path in current_dir.glob("*.json"))
    for name in names:
        shutil.copyfile(current_dir / name, released_dir / name)
    return names


class _Comparison:
    """Walks two schemas side by side, each resolving `$ref`s within its own document."""

    def __init__(self, released_root: Schema, current_root: Schema) -> None:
        self.roots = (released_root, current_root)
        self.following: set[tuple[str | None, str | None]] = set()

    def schemas(self, old: Schema, new: Schema, path: str) -> list[Break]:
        refs = (old.get("$ref"), new.get("$ref"))
        if refs == (None, None):
            return self.resolved(old, new, path)
        if refs in self.following:  # a recursive model: this pair is being compared further up
            return []
        self.following.add(refs)
        try:
            return self.resolved(_resolve(old, self.roots[0]), _resolve(new, self.roots[1]), path)
        finally:
            self.following.discard(refs)

    def resolved(self, old: Schema, new: Schema, path: str) -> list[Break]:
        old, new = _resolve(old, self.roots[0]), _resolve(new, self.roots[1])
        if _is_union(old) or _is_union(new):
            return self.unions(old, new, path)
        return self.keywords(old, new, path)

    def unions(self, old: Schema, new: Schema, path: str) -> list[Break]:
        """Match alternatives by kind (`X | None` is a string branch and a null branch)."""
        old_branches = _branches(old, self.roots[0])
        unmatched = _branches(new, self.roots[1])
        breaks: list[Break] = []
        for branch in old_branches:
            twin = next((b for b in unmatched if _kind(b) == _kind(branch)), None)
            if twin is None:
                breaks.append(Break(path, f"no longer accepts {_describe(branch)}: {NARROWED}"))
                continue
            unmatched.remove(twin)
            breaks += self.schemas(branch, twin, path)
        breaks += [Break(path, f"now also accepts {_describe(b)}: {WIDENED}") for b in unmatched]
        return breaks

    def keywords(self, old: Schema, new: Schema, path: str) -> list[Break]:
        breaks = _types(old, new, path) + _enums(old, new, path) + _bounds(old, new, path)
        breaks += _exact("pattern", old, new, path) + _exact("format", old, new, path)
        breaks += _unique_items(old, new, path)
        breaks += self.objects(old, new, path)
        for keyword in ("items", "propertyNames"):
            breaks += self.optional_subschema(keyword, old, new, path)
        breaks += self.additional_properties(old, new, path)
        for keyword in sorted(set(old) | set(new)):
            if _validates(keyword) and keyword not in HANDLED and old.get(keyword) != new.get(keyword):
                breaks.append(Break(path, f"`{keyword}` changed: not known to be compatible"))
        return breaks

    def objects(self, old: Schema, new: Schema, path: str) -> list[Break]:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        breaks: list[Break] = []
        for name, schema in old_props.items():
            where = f"{path}/properties/{name}"
            if name not in new_props:
                breaks.append(Break(where, "property removed: consumers that read it get nothing"))
                continue
            breaks += self.schemas(schema, new_props[name], where)
            if name in new_required and name not in old_required:
                breaks.append(Break(where, f"made required: {NARROWED}"))
            if name in old_required and name not in new_required:
                breaks.append(Break(where, f"no longer required: {WIDENED}"))
        for name in new_props.keys() - old_props.keys():
            where = f"{path}/properties/{name}"
            if name in new_required:
                breaks.append(Break(where, f"new required property: {NARROWED}"))
            elif old.get("additionalProperties", True) is False:
                breaks.append(Break(where, f"added to an object closed to other properties: {WIDENED}"))
        return breaks

    def optional_subschema(self, keyword: str, old: Schema, new: Schema, path: str) -> list[Break]:
        """`items`, `propertyNames`: absent means anything goes."""
        where = f"{path}/{keyword}"
        if keyword in old and keyword in new:
            return self.schemas(old[keyword], new[keyword], where)
        if keyword in new:
            return [Break(where, f"added: {NARROWED}")]
        if keyword in old:
            return [Break(where, f"removed: {WIDENED}")]
        return []

    def additional_properties(self, old: Schema, new: Schema, path: str) -> list[Break]:
        where = f"{path}/additionalProperties"
        before, after = old.get("additionalProperties", True), new.get("additionalProperties", True)
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            return self.schemas(before, after, where)
        if before == after:
            return []
        if before is True or (isinstance(before, Mapping) and after is False):
            return [Break(where, f"restricted: {NARROWED}")]
        return [Break(where, f"relaxed: {WIDENED}")]


def _types(old: Schema, new: Schema, path: str) -> list[Break]:
    before, after = _type_set(old), _type_set(new)
    if before == after:
        return []
    if before is None:
        return [Break(path, f"restricted to type {', '.join(sorted(after or ()))}: {NARROWED}")]
    if after is None:
        return [Break(path, f"type restriction removed: {WIDENED}")]
    breaks = []
    if removed := before - after:
        breaks.append(Break(path, f"type {', '.join(sorted(removed))} no longer allowed: {NARROWED}"))
    if added := after - before:
        breaks.append(Break(path, f"type {', '.join(sorted(added))} now allowed: {WIDENED}"))
    return breaks


def _enums(old: Schema, new: Schema, path: str) -> list[Break]:
    before, after = _allowed_values(old), _allowed_values(new)
    if before == after:
        return []
    if before is None:
        return [Break(path, f"restricted to the values {sorted(after or (), key=repr)}: {NARROWED}")]
    if after is None:
        return [Break(path, f"no longer restricted to a list of values: {WIDENED}")]
    breaks = []
    if removed := before - after:
        breaks.append(Break(path, f"enum value(s) {_values(removed)} removed: {NARROWED}"))
    if added := after - before:
        breaks.append(Break(path, f"enum value(s) {_values(added)} added: {WIDENED}"))
    return breaks


def _bounds(old: Schema, new: Schema, path: str) -> list[Break]:
    breaks = []
    for keyword in (*LOWER_BOUNDS, *UPPER_BOUNDS):
        before, after = old.get(keyword), new.get(keyword)
        if before == after:
            continue
        lower = keyword in LOWER_BOUNDS
        if before is None or after is None:
            narrowed = before is None
        else:
            narrowed = after > before if lower else after < before
        effect = f"narrows: {NARROWED}" if narrowed else f"widens: {WIDENED}"
        breaks.append(Break(path, f"`{keyword}` {before} -> {after} {effect}"))
    return breaks


def _exact(keyword: str, old: Schema, new: Schema, path: str) -> list[Break]:
    """`pattern` and `format`: any change may accept or refuse other values."""
    before, after = old.get(keyword), new.get(keyword)
    if before == after:
        return []
    if before is None:
        return [Break(path, f"`{keyword}` {after!r} added: {NARROWED}")]
    if after is None:
        return [Break(path, f"`{keyword}` {before!r} removed: {WIDENED}")]
    return [Break(path, f"`{keyword}` changed from {before!r} to {after!r}: {NARROWED}, or {WIDENED}")]


def _unique_items(old: Schema, new: Schema, path: str) -> list[Break]:
    before, after = bool(old.get("uniqueItems")), bool(new.get("uniqueItems"))
    if before == after:
        return []
    problem = f"items must now be unique: {NARROWED}" if after else f"duplicate items allowed: {WIDENED}"
    return [Break(path, problem)]


def _resolve(schema: Schema, root: Schema) -> Schema:
    """Follow `$ref` (and a lone-`allOf` wrapper) to the schema it names, keeping siblings."""
    for _ in range(64):
        if "$ref" in schema:
            target = _pointer(root, schema["$ref"])
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        elif len(schema.get("allOf", ())) == 1:
            schema = {**schema["allOf"][0], **{k: v for k, v in schema.items() if k != "allOf"}}
        else:
            return schema
    raise ValueError("a `$ref` chain longer than 64 links")


def _pointer(root: Schema, ref: str) -> Schema:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are supported, not {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    if not isinstance(node, Mapping):
        raise ValueError(f"{ref!r} does not name a schema")
    return node


def _is_union(schema: Schema) -> bool:
    return "anyOf" in schema or "oneOf" in schema


def _branches(schema: Schema, root: Schema) -> list[Schema]:
    """The alternatives of a union, each with the union's own constraints; else the schema."""
    if not _is_union(schema):
        return [schema]
    shared = {k: v for k, v in schema.items() if _validates(k) and k not in ("anyOf", "oneOf")}
    return [{**shared, **_resolve(b, root)} for b in (*schema.get("anyOf", ()), *schema.get("oneOf", ()))]


def _kind(schema: Schema) -> tuple[str, ...]:
    """What an alternative is, to pair it with its counterpart: its JSON types (and title)."""
    types = _type_set(schema)
    if types is None:
        values = _allowed_values(schema)
        types = {JSON_TYPES.get(type(v), "other") for v in values} if values else {"any"}
    title = str(schema.get("title", "")) if "object" in types else ""
    return (*sorted(types), title)


def _describe(schema: Schema) -> str:
    kind = _kind(schema)
    return " ".join(part for part in kind if part) or "a value"


def _type_set(schema: Schema) -> set[str] | None:
    declared = schema.get("type")
    if declared is None:
        return None
    return {declared} if isinstance(declared, str) else set(declared)


def _allowed_values(schema: Schema) -> set[str] | None:
    """The enum (or const) as JSON texts, so 1, 1.0 and True stay apart."""
    if "const" in schema:
        return {json.dumps(schema["const"], sort_keys=True)}
    if "enum" in schema:
        return {json.dumps(value, sort_keys=True) for value in schema["enum"]}
    return None


def _values(texts: Iterable[str]) -> str:
    return ", ".join(sorted(texts))


def _validates(keyword: str) -> bool:
    return keyword not in ANNOTATIONS and not keyword.startswith("x-")


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", action="store_true", help="make the current schemas the baseline")
    args = parser.parse_args(argv)
    if args.release:
        try:
            names = release()
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"released {len(names)} schemas to {RELEASED_DIR}")
        return 0
    breaking = check()
    for name, breaks in breaking.items():
        for item in breaks:
            print(f"{name}: {item}", file=sys.stderr)
    if missing := unreleased():
        print(f"not released yet (run with --release when publishing): {', '.join(missing)}", file=sys.stderr)
    return 1 if breaking else 0


if __name__ == "__main__":
    sys.exit(main())
