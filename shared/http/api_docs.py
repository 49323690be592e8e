"""Export a service's OpenAPI and AsyncAPI documents, for platform backends that call and consume it.

    python -m shared.http.api_docs [--check] SERVICE [SERVICE ...]

Each service's `app.py` has `build_app(settings) -> FastAPI` with its runtime in `app.state`;
this writes `services/<name>/docs/openapi.json` (its HTTP API) and `asyncapi.json` (what
it consumes and produces). `--check` fails when a committed document is stale, which a
unit test runs so the documents never drift from the code.

The documents are contracts, so they say nothing of the machine that wrote them: the app is
built with the Kafka settings' own defaults (no topic prefix, no consumer group, no TLS,
whatever the environment says), and the AsyncAPI server is a placeholder whose variable
names the setting that fills it (`KAFKA_BOOTSTRAP_SERVERS`). They are also valid by
independent validators (Redocly CLI and swagger-parser, `tests/unit/shared/
test_openapi_validators.py`): what FastAPI leaves implicit (where the API is served, that
`/healthz`, `/readyz` and a calendar feed's secret URL need no token) is written out here.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from shared.settings import KafkaSettings, ServiceSettings

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"

KAFKA_SERVER = "kafka"
"""The one AsyncAPI server every channel refers to: the cluster the service is configured with."""

KAFKA_BOOTSTRAP_VARIABLE = "kafka_bootstrap_servers"

HTTP_SERVER = {
    "url": "/",
    "description": (
        "Wherever the service is deployed: the host that serves this document "
        "(on a developer's machine `http://127.0.0.1:<SERVICE>_HTTP_PORT`)."
    ),
}
"""Relative, so the document names no machine; a consumer sets the base URL of its deployment."""


def documents(app: FastAPI) -> dict[str, str]:
    """The service's documents, rendered stably (sorted keys) by file name."""
    return {
        "openapi.json": _render(openapi_document(app)),
        "asyncapi.json": _render(asyncapi_document(app)),
    }


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's OpenAPI document with what independent validators require of it.

    A `servers` entry (relative: the host that serves the document), and `security: []` on
    every operation FastAPI gave no security requirement: there is no document-wide one, so
    an operation without either reads as undecided (Redocly's `security-defined`), while
    these routes (health, a feed's secret URL) really are open.
    """
    # FastAPI's own method (cached on the app), even once `serve_openapi_document` replaced `app.openapi`.
    document: dict[str, Any] = json.loads(json.dumps(FastAPI.openapi(app)))
    document["servers"] = [HTTP_SERVER]
    for path in document.get("paths", {}).values():
        for method, operation in path.items():
            if method in _HTTP_METHODS and "security" not in operation:
                operation["security"] = []
    return document


def serve_openapi_document(app: FastAPI) -> None:
    """Have the app's own `/openapi.json` (and `/docs`) serve `openapi_document`, as committed."""
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]


def asyncapi_document(app: FastAPI) -> dict[str, Any]:
    """FastStream's AsyncAPI 3 document with a placeholder server instead of a broker address."""
    document: dict[str, Any] = app.state.runtime.asyncapi().to_specification().to_jsonable()
    document["servers"] = {KAFKA_SERVER: kafka_server()}
    for channel in document.get("channels", {}).values():
        channel["servers"] = [{"$ref": f"#/servers/{KAFKA_SERVER}"}]
    document["info"]["description"] = (
        "What the service consumes and produces on Kafka: one topic per event (CloudEvents 1.0, "
        "Kafka protocol binding, binary mode), dead letters on `<topic>.dlq`. It consumes as the "
        "group `carepath-<service>` (or `<SERVICE>_CONSUMER_GROUP`). `KAFKA_TOPIC_PREFIX`, when "
        "set, is prepended to every topic name and to the default group."
    )
    return document


def kafka_server() -> dict[str, Any]:
    """The AsyncAPI server: the cluster named by `KAFKA_BOOTSTRAP_SERVERS`, however reached."""
    default = KafkaSettings.model_fields["bootstrap_servers"].default
    return {
        "host": "{" + KAFKA_BOOTSTRAP_VARIABLE + "}",
        "protocol": "kafka",
        "description": (
            "The Kafka cluster the service is configured with. Plaintext by default; "
            "`KAFKA_SECURITY_PROTOCOL` (`SSL`, `SASL_SSL`, `SASL_PLAINTEXT`) with "
            "`KAFKA_SASL_MECHANISM`, `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD` and "
            "`KAFKA_SSL_CAFILE`/`KAFKA_SSL_CERTFILE`/`KAFKA_SSL_KEYFILE` secure the connection."
        ),
        "variables": {
            KAFKA_BOOTSTRAP_VARIABLE: {
                "description": (
                    "`KAFKA_BOOTSTRAP_SERVERS`: the brokers to bootstrap from, `host:port[,host:port...]`."
                ),
                "default": default,
                "examples": [default, "kafka-0.kafka:9092,kafka-1.kafka:9092"],
            }
        },
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


def documentation_settings(service: str) -> ServiceSettings:
    """The service's settings with the Kafka settings that shape the AsyncAPI document at their defaults.

    Bootstrap servers, security protocol and SASL mechanism become the server; the topic
    prefix and the consumer group name every channel. Explicit values win over the
    environment, so a machine whose Kafka runs elsewhere (or a test run's prefix) writes the
    same document.
    """
    settings_type = _settings_type(service)
    defaults = KafkaSettings.model_fields
    kafka = KafkaSettings(
        bootstrap_servers=defaults["bootstrap_servers"].default,
        topic_prefix=defaults["topic_prefix"].default,
        security_protocol=defaults["security_protocol"].default,
        sasl_mechanism=defaults["sasl_mechanism"].default,
    )
    return settings_type(kafka=kafka, consumer_group="")


def _settings_type(service: str) -> type[ServiceSettings]:
    """`<Name>Settings` of `services/<name>/settings.py` (docs/SERVICE_LAYOUT.md)."""
    module = importlib.import_module(f"services.{service}.settings")
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, ServiceSettings) and value.service_name == service:
            return value
    raise LookupError(f"services/{service}/settings.py defines no ServiceSettings named {service!r}")


def _documents_of(service: str) -> dict[str, str]:
    module = importlib.import_module(f"services.{service}.app")
    return documents(module.build_app(documentation_settings(service)))


_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


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
