"""Each service's committed OpenAPI and AsyncAPI documents match its code (`make docs`), on any machine."""

from __future__ import annotations

import json

import pytest

from services.scheduling.app import build_app
from services.scheduling.settings import SchedulingSettings
from shared.http.api_docs import (
    KAFKA_BOOTSTRAP_VARIABLE,
    KAFKA_SERVER,
    SERVICES_DIR,
    documentation_settings,
    serve_openapi_document,
    stale,
)

SERVICES = sorted(path.parent.name for path in SERVICES_DIR.glob("*/app.py"))


@pytest.mark.parametrize("service", SERVICES)
def test_committed_api_documents_are_current(service: str) -> None:
    assert stale(service) == [], "run `make docs` and commit the result"


@pytest.mark.parametrize("service", SERVICES)
def test_committed_api_documents_are_current_on_a_machine_whose_kafka_is_elsewhere(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another port and host, a test run's topic prefix, TLS with SASL, another consumer group."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.elsewhere.test:19092,10.0.0.7:19093")
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", "run-4f2a-")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv(f"{service.upper()}_CONSUMER_GROUP", "elsewhere")

    assert stale(service) == [], "the documents must not depend on the machine that generates them"


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_document_names_a_placeholder_server_filled_by_kafka_bootstrap_servers(service: str) -> None:
    document = json.loads((SERVICES_DIR / service / "docs" / "asyncapi.json").read_text())

    [(name, server)] = document["servers"].items()
    assert name == KAFKA_SERVER
    assert (server["host"], server["protocol"]) == ("{" + KAFKA_BOOTSTRAP_VARIABLE + "}", "kafka")
    variable = server["variables"][KAFKA_BOOTSTRAP_VARIABLE]
    assert "KAFKA_BOOTSTRAP_SERVERS" in variable["description"] and variable["default"]
    referred = [channel["servers"] for channel in document["channels"].values()]
    assert referred and all(servers == [{"$ref": f"#/servers/{KAFKA_SERVER}"}] for servers in referred)


def test_an_app_wired_to_serve_it_answers_openapi_json_with_the_committed_document() -> None:
    settings = documentation_settings("scheduling")
    assert isinstance(settings, SchedulingSettings)
    app = build_app(settings)
    serve_openapi_document(app)

    committed = json.loads((SERVICES_DIR / "scheduling" / "docs" / "openapi.json").read_text())
    assert app.openapi() == committed
