"""Export every event's JSON Schema (DESIGN §3) for platform backends that consume events.

    python -m shared.events.export_schemas [--check] [OUT_DIR]

Writes `<event>.v<major>.json` files, each with `$id` equal to the `ce_dataschema` its
events carry; `--check` fails if the committed files are stale. (`schemas/released/` holds
the schemas as last released, for the compatibility check: see `compatibility.py`.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .registry import EVENTS, EventSpec

DEFAULT_DIR = Path(__file__).parent / "schemas"


def schema_for(spec: EventSpec) -> dict[str, Any]:
    schema = spec.model.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": spec.dataschema,
        "x-cloudevents-type": spec.type,
        "x-kafka-topic": spec.topic,
        "x-kafka-key": spec.key_field,
        "x-producer": spec.producer,
        **schema,
    }


def rendered() -> dict[str, str]:
    return {
        spec.schema_file: json.dumps(schema_for(spec), indent=2, sort_keys=True) + "\n" for spec in EVENTS
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--check", action="store_true", help="fail if files differ")
    args = parser.parse_args(argv)
    stale = []
    for name, text in rendered().items():
        path: Path = args.out_dir / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"stale event schemas (run `make schemas`): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
