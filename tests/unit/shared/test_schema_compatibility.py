"""A change to a released `v1` event schema must not break an existing consumer.

The checker (`shared.events.compatibility`) first, on small made-up schema pairs in both
directions: a consumer on the new schema reads events already on the topic (nothing may be
narrowed), and a consumer still on the released schema reads new events (nothing may be
widened); only optional properties may be added. Then the repository: every current schema
against its committed released baseline (`shared/events/schemas/released/`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.events.compatibility import (
    RELEASED_DIR,
    SCHEMAS_DIR,
    breaking_changes,
    check,
    release,
    unreleased,
)
from shared.events.registry import EVENTS

Schema = dict[str, Any]
Change = Callable[[Schema], None]

ID = {"type": "string", "pattern": "^[a-z0-9-]+$"}


def released() -> Schema:
    """A small event schema in the shape pydantic writes them (`$defs`, `anyOf` for optionals)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://schemas.carepath.dev/events/example.v1.json",
        "title": "Example",
        "type": "object",
        "$defs": {
            "Format": {"title": "Format", "type": "string", "enum": ["video", "phone", "in_person"]},
            "Window": {
                "title": "Window",
                "type": "object",
                "properties": {
                    "day": {"type": "string", "enum": ["mon", "tue"]},
                    "start": {"type": "string"},
                },
                "required": ["day", "start"],
            },
        },
        "properties": {
            "client_id": ID,
            "format": {"$ref": "#/$defs/Format"},
            "total": {"type": "integer", "minimum": 0, "maximum": 27},
            "join_url": {"type": "string", "maxLength": 512, "pattern": "^https://"},
            "windows": {"type": "array", "items": {"$ref": "#/$defs/Window"}, "maxItems": 50},
            "match_id": {"anyOf": [ID, {"type": "null"}], "default": None},
            "factors": {"type": "object", "additionalProperties": {"type": "number"}},
        },
        "required": ["client_id", "format", "total", "join_url"],
    }


def changed(change: Change) -> Schema:
    schema = released()
    change(schema)
    return schema


def problems(old: Schema, new: Schema) -> str:
    return "\n".join(str(item) for item in breaking_changes(old, new))


def remove_enum_value(schema: Schema) -> None:
    schema["$defs"]["Format"]["enum"].remove("phone")


def make_required(schema: Schema) -> None:
    schema["required"].append("match_id")


def narrow_range(schema: Schema) -> None:
    schema["properties"]["total"]["maximum"] = 21


def narrow_type(schema: Schema) -> None:
    schema["properties"]["total"]["type"] = "string"


def drop_null(schema: Schema) -> None:
    schema["properties"]["match_id"] = ID


def narrow_pattern(schema: Schema) -> None:
    schema["properties"]["join_url"]["pattern"] = "^https://video\\."


def narrow_length(schema: Schema) -> None:
    schema["properties"]["join_url"]["maxLength"] = 128


def narrow_nested_enum(schema: Schema) -> None:
    schema["$defs"]["Window"]["properties"]["day"]["enum"] = ["mon"]


def narrow_map_values(schema: Schema) -> None:
    schema["properties"]["factors"]["additionalProperties"] = {"type": "integer"}


def narrow_array(schema: Schema) -> None:
    schema["properties"]["windows"]["maxItems"] = 10


def remove_property(schema: Schema) -> None:
    del schema["properties"]["join_url"]
    schema["required"].remove("join_url")


def add_required_property(schema: Schema) -> None:
    schema["properties"]["series_id"] = ID
    schema["required"].append("series_id")


def add_optional_property(schema: Schema) -> None:
    schema["properties"]["kind"] = {"anyOf": [{"enum": ["introduction", "therapy"]}, {"type": "null"}]}


def reword(schema: Schema) -> None:
    schema["title"] = "Example, reworded"
    schema["properties"]["total"]["description"] = "The PHQ-9 total."
    schema["properties"]["match_id"]["default"] = "none-yet"
    schema["x-producer"] = "elsewhere"


def rename_definition(schema: Schema) -> None:
    schema["$defs"]["SessionFormat"] = schema["$defs"].pop("Format")
    schema["properties"]["format"] = {"$ref": "#/$defs/SessionFormat"}


NARROWING: dict[str, tuple[Change, str]] = {
    "removed enum value": (remove_enum_value, '"phone" removed'),
    "property made required": (make_required, "/properties/match_id: made required"),
    "narrowed range": (narrow_range, "`maximum` 27 -> 21 narrows"),
    "narrowed type": (narrow_type, "type integer no longer allowed"),
    "null no longer accepted": (drop_null, "no longer accepts null"),
    "narrowed pattern": (narrow_pattern, "`pattern` changed"),
    "narrowed length": (narrow_length, "`maxLength` 512 -> 128 narrows"),
    "narrowed enum in a nested definition": (narrow_nested_enum, "/properties/windows/items/properties/day"),
    "narrowed values of a map": (narrow_map_values, "/properties/factors/additionalProperties"),
    "fewer items allowed": (narrow_array, "`maxItems` 50 -> 10 narrows"),
}


@pytest.mark.parametrize("name", NARROWING)
def test_a_narrowing_change_breaks_consumers_reading_events_already_on_the_topic(name: str) -> None:
    change, expected = NARROWING[name]
    found = problems(released(), changed(change))
    assert expected in found
    assert "events already on the topic" in found


@pytest.mark.parametrize("name", NARROWING)
def test_the_same_change_undone_widens_and_breaks_consumers_still_on_the_released_schema(name: str) -> None:
    """The other direction: released narrow, current wide (an added enum value, a looser range)."""
    change, _ = NARROWING[name]
    found = problems(changed(change), released())
    assert found, f"widening ({name}) went unnoticed"
    assert "consumers on the released schema refuse such events" in found


def test_a_removed_property_breaks_consumers_that_read_it() -> None:
    assert "/properties/join_url: property removed" in problems(released(), changed(remove_property))


def test_a_new_required_property_breaks_consumers_reading_older_events() -> None:
    assert "/properties/series_id: new required property" in problems(
        released(), changed(add_required_property)
    )


def test_adding_an_optional_property_is_compatible() -> None:
    assert breaking_changes(released(), changed(add_optional_property)) == []


def test_removing_an_optional_property_again_is_not() -> None:
    """Once released with it, consumers may read it: the reverse of an addition is a removal."""
    assert "/properties/kind: property removed" in problems(changed(add_optional_property), released())


@pytest.mark.parametrize("change", [reword, rename_definition], ids=["annotations", "renamed definition"])
def test_annotations_and_definition_names_are_not_part_of_the_contract(change: Change) -> None:
    assert breaking_changes(released(), changed(change)) == []
    assert breaking_changes(changed(change), released()) == []


def test_adding_a_property_to_a_closed_object_breaks_consumers_on_the_released_schema() -> None:
    closed = changed(lambda s: s.update(additionalProperties=False))
    wider = copy.deepcopy(closed)
    add_optional_property(wider)
    assert "closed to other properties" in problems(closed, wider)


def test_a_released_schema_file_that_disappears_breaks_its_consumers(tmp_path: Path) -> None:
    baseline, current = tmp_path / "released", tmp_path / "current"
    baseline.mkdir()
    current.mkdir()
    (baseline / "example.v1.json").write_text(json.dumps(released()))
    (current / "example.v2.json").write_text(json.dumps(released()))

    assert [str(b) for b in check(baseline, current)["example.v1.json"]] == [
        "/: schema removed: its consumers lose the event"
    ]
    assert unreleased(baseline, current) == ["example.v2.json"]


def test_release_refuses_to_make_a_breaking_change_the_new_baseline(tmp_path: Path) -> None:
    baseline, current = tmp_path / "released", tmp_path / "current"
    baseline.mkdir()
    current.mkdir()
    (baseline / "example.v1.json").write_text(json.dumps(released()))
    (current / "example.v1.json").write_text(json.dumps(changed(remove_enum_value)))
    with pytest.raises(ValueError, match=r"breaking changes in example\.v1\.json"):
        release(baseline, current)

    (current / "example.v1.json").write_text(json.dumps(changed(add_optional_property)))
    assert release(baseline, current) == ["example.v1.json"]
    assert json.loads((baseline / "example.v1.json").read_text()) == changed(add_optional_property)


# --- the repository's own schemas ------------------------------------------------------


def test_no_current_event_schema_breaks_its_released_v1() -> None:
    breaking = check()
    assert breaking == {}, "\n".join(f"{name}: {item}" for name, items in breaking.items() for item in items)


def test_every_published_event_schema_has_a_released_baseline() -> None:
    assert unreleased() == [], "run `python -m shared.events.compatibility --release` when releasing"
    assert {path.name for path in RELEASED_DIR.glob("*.json")} == {spec.schema_file for spec in EVENTS}


def test_the_checker_sees_a_real_narrowing_of_a_real_schema() -> None:
    """The check above is not vacuous: drop one session format from session-booked."""
    current = json.loads((SCHEMAS_DIR / "session-booked.v1.json").read_text())
    narrowed = copy.deepcopy(current)
    narrowed["$defs"]["SessionFormat"]["enum"].remove("chat")
    assert '/properties/format: enum value(s) "chat" removed' in problems(current, narrowed)
