"""Export a service's OpenAPI and AsyncAPI documents, for platform backends that call and consume it.

    python -m shared.http.api_docs [--check] SERVICE [SERVICE ...]

Each service's `app.py` has `build_app() -> FastAPI` with its runtime in `app.state`;
this writes `services/<name>/docs/openapi.json` (its HTTP API) and `asyncapi.json` (what
it consumes and produces). `--check` fails when a committed document is stale, which a
unit test runs so the documents never drift from the code.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"


def documents(app: FastAPI) -> dict[str, str]:
    """The service's documents, rendered stably (sorted keys) by file name."""
    asyncapi: Any = app.state.runtime.asyncapi().to_specification().to_jsonable()
    return {
        "openapi.json": _render(app.openapi()),
        "asyncapi.json": _render(asyncapi),
    }


def stale(service: str) -> list[Path]:
    """The committed documents of `service` that differ from what its code declares."""
    out = SERVICES_DIR / service / "docs"
    return [out / name for name, text in _documents_of(service).items() if _read(out / name) != text]


def write(service: str) -> list[Path]:
    out = SERVICES_DIR / service / "docs"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in _documents_of(service).items():
        (out / name).write_text(text)
        written.append(out / name)
    return written


def _documents_of(service: str) -> dict[str, str]:
    module = importlib.import_module(f"services.{service}.app")
    return documents(module.build_app())


def _render(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a committed document is stale")
    parser.add_argument("services", nargs="+")
    args = parser.parse_args(argv)
    if args.check:
        outdated = [path for service in args.services for path in stale(service)]
        for path in outdated:
            print(f"stale: {path} (run `make docs`)", file=sys.stderr)
        return 1 if outdated else 0
    for service in args.services:
        for path in write(service):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
