"""Every committed OpenAPI document is valid by two independent validators: Redocly CLI and swagger-parser.

Code generators and gateways read these documents, not our pydantic models, so what FastAPI
writes must hold against tools that know only the OpenAPI and JSON Schema specifications
(pydantic's `ge` inside a schema once passed every test of ours and broke them). The tools
are Node packages pinned by `tests/support/contracts/package-lock.json` and installed by
`make contract-tools` into `.local/tools/contracts`; without them this fails and says what to
run, it never skips. Each validator runs once for all documents (plus one broken on purpose,
so a validator that checks nothing cannot pass).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared.http.api_docs import SERVICES_DIR

ROOT = SERVICES_DIR.parent
MANIFEST = ROOT / "tests" / "support" / "contracts"
TOOLS = ROOT / ".local" / "tools" / "contracts"
SERVICES = sorted(path.parent.name for path in SERVICES_DIR.glob("*/app.py"))
INSTALL_HINT = "run `make contract-tools` (Node.js 20.19+ and npm, packages from the npm registry)"

BROKEN: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"version": "1.0.0"},  # no title
    "servers": [{"url": "/"}],
    "paths": {
        "/answers": {
            "get": {
                "operationId": "answers",
                "summary": "An answer 0-3",
                "security": [],
                "responses": {
                    "200": {
                        "description": "the answer",
                        "content": {"application/json": {"schema": {"type": "integer", "ge": 0, "le": 3}}},
                    },
                    "404": {"description": "none"},
                },
            }
        }
    },
}
"""What both must refuse: Redocly the `ge`/`le` and the missing title, swagger-parser the title."""


@dataclass(frozen=True)
class Verdicts:
    """Each validator's errors by document (resolved path); an empty list is a pass."""

    redocly: dict[Path, list[str]]
    swagger_parser: dict[Path, list[str]]
    broken: Path


def openapi_of(service: str) -> Path:
    return SERVICES_DIR / service / "docs" / "openapi.json"


def asyncapi_of(service: str) -> Path:
    return SERVICES_DIR / service / "docs" / "asyncapi.json"


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> Verdicts:
    node = installed_node()
    broken = tmp_path_factory.mktemp("contracts") / "broken-openapi.json"
    broken.write_text(json.dumps(BROKEN))
    openapi = [*(openapi_of(s) for s in SERVICES), broken]
    return Verdicts(
        redocly=redocly_errors(node, [*openapi, *(asyncapi_of(s) for s in SERVICES)]),
        swagger_parser=swagger_parser_errors(node, openapi),
        broken=broken,
    )


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_document_is_valid_by_redocly(verdicts: Verdicts, service: str) -> None:
    assert verdicts.redocly[openapi_of(service)] == []


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_document_is_valid_by_swagger_parser(verdicts: Verdicts, service: str) -> None:
    assert verdicts.swagger_parser[openapi_of(service)] == []


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_document_is_valid_by_redocly(verdicts: Verdicts, service: str) -> None:
    assert verdicts.redocly[asyncapi_of(service)] == []


def test_both_validators_refuse_a_document_with_pydantic_constraints_and_no_title(verdicts: Verdicts) -> None:
    redocly = " | ".join(verdicts.redocly[verdicts.broken])
    assert "Property `ge` is not expected here" in redocly and "`title` must be present" in redocly
    assert "title" in " ".join(verdicts.swagger_parser[verdicts.broken])


# --------------------------------------------------------------------------- the tools


def installed_node() -> str:
    """`node`, once the locked validators are installed at the committed versions; else a clear failure."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"Node.js is not on the PATH, so the OpenAPI validators cannot run: {INSTALL_HINT}")
    lock = TOOLS / "package-lock.json"
    if not (TOOLS / ".installed").exists() or not lock.exists():
        pytest.fail(f"the OpenAPI validators are not installed in {TOOLS}: {INSTALL_HINT}")
    if lock.read_text() != (MANIFEST / "package-lock.json").read_text():
        pytest.fail(f"the OpenAPI validators in {TOOLS} are not the locked versions: {INSTALL_HINT}")
    return node


def installed_version(package: str) -> str:
    manifest = json.loads((TOOLS / "node_modules" / package / "package.json").read_text())
    version: str = manifest["version"]
    return version


def redocly_errors(node: str, documents: list[Path]) -> dict[Path, list[str]]:
    """`redocly lint` with its recommended rules (tests/support/contracts/redocly.yaml): errors only."""
    cli = TOOLS / "node_modules" / "@redocly" / "cli" / "bin" / "cli.js"
    config = MANIFEST / "redocly.yaml"
    command = [node, str(cli), "lint", "--config", str(config), "--format=json", *map(str, documents)]
    # Offline and quiet: no telemetry, no check for a newer version, no colours in the report.
    env = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    reports = _json_values(done.stdout)
    if not reports:
        pytest.fail(f"Redocly CLI {installed_version('@redocly/cli')} gave no report:\n{done.stderr[-2000:]}")
    errors: dict[Path, list[str]] = {document.resolve(): [] for document in documents}
    for report in reports:
        for problem in report["problems"]:
            if problem["severity"] == "error":
                where = problem["location"][0]
                source = (ROOT / where["source"]["ref"]).resolve()
                errors.setdefault(source, []).append(f"{where['pointer']}: {problem['message']}")
    return {document: errors[document.resolve()] for document in documents}


def swagger_parser_errors(node: str, documents: list[Path]) -> dict[Path, list[str]]:
    """`SwaggerParser.validate` of each document (tests/support/contracts/swagger_parser.mjs)."""
    script = MANIFEST / "swagger_parser.mjs"
    command = [node, str(script), str(TOOLS), *map(str, documents)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    if done.returncode != 0:
        version = installed_version("@apidevtools/swagger-parser")
        pytest.fail(f"swagger-parser {version} did not run:\n{done.stderr[-2000:]}")
    results: dict[str, list[str]] = json.loads(done.stdout)
    return {document: results[str(document)] for document in documents}


def _json_values(text: str) -> list[dict[str, Any]]:
    """Redocly prints one JSON report per document, one after another."""
    decoder, values, at = json.JSONDecoder(), [], 0
    text = text.strip()
    while at < len(text):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
        while at < len(text) and text[at].isspace():
            at += 1
    return values
