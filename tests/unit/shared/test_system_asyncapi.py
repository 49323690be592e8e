"""The system-wide AsyncAPI document (`docs/asyncapi.yaml`) is current and says what a
platform backend needs: every topic and its dead-letter topic, the CloudEvents headers as a
message trait, the record key, and who produces and who consumes each event."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import yaml

from shared.events import export_asyncapi
from shared.events.registry import EVENTS

SERVICES = ("intake", "matching", "scheduling", "notifications")
CLOUDEVENTS_HEADERS = {
    "ce_specversion",
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_time",
    "ce_subject",
    "ce_dataschema",
    "content-type",
    "correlation_id",
    "causation_id",
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(export_asyncapi.DEFAULT_OUT.read_text())
    return loaded


def resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_committed_document_is_current() -> None:
    assert export_asyncapi.main(["--check"]) == 0, "run `python -m shared.events.export_asyncapi`"


def test_the_yaml_reads_back_as_exactly_the_document_the_registry_builds(document: dict[str, Any]) -> None:
    """The exporter writes YAML itself (no YAML library in the image); PyYAML reads it back."""
    assert document == export_asyncapi.document()


def test_document_does_not_depend_on_the_machine_that_generates_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.elsewhere.test:19092")
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", "run-4f2a-")
    monkeypatch.setenv("CAREPATH_KAFKA_PORT", "19092")
    assert export_asyncapi.main(["--check"]) == 0


def test_it_is_asyncapi_3_with_a_placeholder_server_whose_variable_is_documented(
    document: dict[str, Any],
) -> None:
    assert document["asyncapi"].startswith("3.")
    [server] = document["servers"].values()
    assert server["host"] == "{kafka_bootstrap_servers}"
    variable = server["variables"]["kafka_bootstrap_servers"]
    assert "KAFKA_BOOTSTRAP_SERVERS" in variable["description"] and variable["default"]


def test_every_topic_and_its_dead_letter_topic_is_a_channel(document: dict[str, Any]) -> None:
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {spec.topic for spec in EVENTS} | {spec.dead_letter_topic for spec in EVENTS}


def test_every_message_carries_the_cloudevents_headers_as_a_trait_and_the_key_as_its_binding(
    document: dict[str, Any],
) -> None:
    for spec in EVENTS:
        [ref] = [m["$ref"] for m in document["channels"][spec.topic]["messages"].values()]
        message = resolve(document, ref)
        [trait_ref] = [t["$ref"] for t in message["traits"]]
        headers = resolve(document, trait_ref)["headers"]
        assert set(headers["properties"]) >= CLOUDEVENTS_HEADERS, spec.name
        assert "ce_dataschema" not in headers["required"]  # events published before it lack it
        assert spec.dataschema in message["description"]
        assert message["examples"][0]["headers"]["ce_type"] == spec.type
        key = message["bindings"]["kafka"]["key"]
        assert key["type"] == "string" and spec.key_field in key["description"], spec.name
        assert resolve(document, message["payload"]["$ref"])["title"] == spec.model.__name__


def test_dead_letters_keep_the_event_and_say_why(document: dict[str, Any]) -> None:
    for spec in EVENTS:
        [ref] = [m["$ref"] for m in document["channels"][spec.dead_letter_topic]["messages"].values()]
        message = resolve(document, ref)
        headers = resolve(document, message["traits"][0]["$ref"])["headers"]
        assert {"dlq_reason", "dlq_error", "dlq_original_topic"} <= set(headers["properties"])
        assert set(headers["properties"]) >= CLOUDEVENTS_HEADERS
        assert message["bindings"]["kafka"]["key"]["description"].startswith(f"`{spec.key_field}`")


def test_producers_and_consumers_are_named_with_their_consumer_groups(document: dict[str, Any]) -> None:
    operations = document["operations"]
    for spec in EVENTS:
        sends = [op for op in operations.values() if op["channel"]["$ref"] == f"#/channels/{spec.topic}"]
        assert [op["tags"][0]["name"] for op in sends if op["action"] == "send"] == [spec.producer]
        receivers = {op["tags"][0]["name"]: op for op in sends if op["action"] == "receive"}
        assert set(receivers) == set(spec.consumers), spec.name
        for service, op in receivers.items():
            assert op["bindings"]["kafka"]["groupId"]["enum"] == [f"carepath-{service}.{spec.name}"]


@pytest.mark.parametrize("service", SERVICES)
def test_the_registry_names_exactly_what_each_service_subscribes_to_and_produces(service: str) -> None:
    """The document is built from the registry; the services' own wiring is the truth it must match."""
    app = importlib.import_module(f"services.{service}.app").build_app()
    own: dict[str, Any] = app.state.runtime.asyncapi().to_specification().to_jsonable()
    by_action: dict[str, set[str]] = {"send": set(), "receive": set()}
    for operation in own["operations"].values():
        channel = own["channels"][operation["channel"]["$ref"].rsplit("/", 1)[-1]]
        by_action[operation["action"]].add(channel["address"])

    assert by_action["receive"] == {spec.topic for spec in EVENTS if service in spec.consumers}
    assert by_action["send"] == {spec.topic for spec in EVENTS if spec.producer == service}
