"""The system-wide AsyncAPI 3 document: every topic, who sends and receives it, and how.

    python -m shared.events.export_asyncapi [--check] [OUT_FILE]

Each service documents its own view (`services/<name>/docs/asyncapi.json`, from its
FastStream app); a platform backend wants the whole system in one place. This writes
`docs/asyncapi.yaml` from the topic registry and the event models: every topic and its
dead-letter topic, each event's message with the CloudEvents headers as a message trait
(`CloudEvent`; dead letters add the `dlq_*` headers: `DeadLetter`), the record key as the
Kafka message binding's key, the producing service's `send` and each consuming service's
`receive` (with its consumer group) and dead-letter operations, and a placeholder server
whose variable says where the real address comes from. `--check` fails when the
committed document is stale, which a unit test runs.

Repository tooling: not part of the `carepath-events` distribution.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from . import records
from .common import ID_PATTERN
from .envelope import CONTENT_TYPE, SPEC_VERSION
from .registry import DEFAULT_PARTITIONS, EVENTS, SCHEMA_BASE_URL, EventSpec

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "docs" / "asyncapi.yaml"
PACKAGE_PROJECT = ROOT / "packages" / "carepath-events" / "pyproject.toml"

KAFKA_BINDING_VERSION = "0.5.0"
KAFKA_SERVER = "kafka"
KAFKA_BOOTSTRAP_VARIABLE = "kafka_bootstrap_servers"
SCHEMAS = "#/components/schemas/"

DESCRIPTION = """\
Every event Carepath publishes, on one Kafka topic per event type, with its dead-letter topic
(`<topic>.dlq`). Records are CloudEvents 1.0 in the Kafka protocol binding, binary content mode:
the attributes are `ce_*` headers (the `CloudEvent` message trait), the value is the event data
as JSON (the message payload) and the key is the client id (therapist id, recipient id for
some events), so one person's events stay in order on one partition.

Consume with the `carepath-events` package (`pip install carepath-events`): its models, its
`parse_event` (envelope, type, source and data checked in one call) and the JSON Schemas named
by each event's `ce_dataschema` (`{schemas}<event>.v<major>.json`).
Expect at least once delivery: deduplicate on `ce_id`. A record `parse_event` refuses never
becomes valid: send it to your dead-letter topic and move on.

Within a major version events change only by new optional properties (ignore what you do not
know); a breaking change is a new `ce_type` (`carepath.<event>.v2`) published beside the old
one for a while. Topic names are shown bare: a deployment may prepend `KAFKA_TOPIC_PREFIX`.
"""

SERVICES = {
    "intake": "Intake: questionnaires, scores, risk screening, check-ins and treatment plans.",
    "matching": "Matching: ranks therapists for each client, proposals, acceptances and the waitlist.",
    "scheduling": "Scheduling: availability, sessions, introductions, series and check-ins due.",
    "notifications": "Notifications: e-mail, SMS, push and in-app messages, reminders and risk alerts.",
}

HEADERS: dict[str, dict[str, Any]] = {
    "ce_specversion": {"type": "string", "const": SPEC_VERSION, "description": "CloudEvents version."},
    "ce_id": {
        "type": "string",
        "format": "uuid",
        "description": "The event's id. Deterministic for an event caused by another, so a redelivered "
        "cause yields the same id: deduplicate on it.",
    },
    "ce_source": {
        "type": "string",
        "enum": sorted({f"/carepath/{spec.producer}" for spec in EVENTS}),
        "description": "`/carepath/<service>`: the topic's one producer. Dead-letter any other source.",
    },
    "ce_type": {
        "type": "string",
        "pattern": r"^carepath\.[a-z0-9-]+\.v[0-9]+$",
        "description": "`carepath.<event>.v<major>`: the event and the major version of its data.",
    },
    "ce_time": {"type": "string", "format": "date-time", "description": "When it happened (RFC 3339, UTC)."},
    "ce_subject": {
        "type": "string",
        "pattern": ID_PATTERN,
        "description": "Whom it is about: the same id as the record key.",
    },
    "ce_dataschema": {
        "type": "string",
        "format": "uri",
        "description": f"The `$id` of the data's JSON Schema, `{SCHEMA_BASE_URL}<event>.v<major>.json` "
        "(the file ships in `carepath-events`).",
    },
    "content-type": {"type": "string", "const": CONTENT_TYPE, "description": "The value is JSON."},
    "correlation_id": {
        "type": "string",
        "description": "The journey: set by its first event (an intake submitted) and carried by every "
        "event that follows from it.",
    },
    "causation_id": {
        "type": "string",
        "description": "`ce_id` of the event (or id of the request) that caused this one; absent on a "
        "journey's first event.",
    },
    "traceparent": {
        "type": "string",
        "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
        "description": "W3C Trace Context of the span that wrote the event, when the producer traces "
        "(OpenTelemetry): continue it to see the journey as one trace.",
    },
    "tracestate": {"type": "string", "description": "W3C Trace Context vendor state, with `traceparent`."},
}
REQUIRED_HEADERS = [
    "ce_specversion",
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_time",
    "ce_subject",
    "content-type",
    "correlation_id",
]
DEAD_LETTER_HEADERS: dict[str, dict[str, Any]] = {
    records.DLQ_REASON: {
        "type": "string",
        "description": "Why, as a code: `invalid_event`, `unexpected_source`, `unreadable_record`, "
        "`oversized_record` (over 256 KiB: refused unread, value not copied), "
        "`rejected_by_handler`, `retries_exhausted` (Carepath's services); `invalid_envelope`, "
        "`unexpected_type`, `unexpected_source`, `invalid_data` (`carepath_events.dead_letter_headers`).",
    },
    records.DLQ_ERROR: {
        "type": "string",
        "maxLength": records.MAX_ERROR_LENGTH,
        "description": "What failed: the error type, its field paths or header names; never values.",
    },
    records.DLQ_CONSUMER: {"type": "string", "description": "The consumer that gave up on the record."},
    records.DLQ_ATTEMPTS: {"type": "string", "pattern": "^[0-9]+$", "description": "Handler attempts made."},
    records.DLQ_FAILED_AT: {"type": "string", "format": "date-time", "description": "When it gave up."},
    records.DLQ_ORIGINAL_TOPIC: {"type": "string", "description": "Where the record came from."},
    records.DLQ_ORIGINAL_PARTITION: {"type": "string", "pattern": "^[0-9]+$"},
    records.DLQ_ORIGINAL_OFFSET: {"type": "string", "pattern": "^[0-9]+$"},
}


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document, built from the registry and the models alone."""
    return {
        "asyncapi": "3.0.0",
        "id": "urn:carepath:events",
        "info": {
            "title": "Carepath events",
            "version": package_version(),
            "description": DESCRIPTION.format(schemas=SCHEMA_BASE_URL),
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
            "tags": [{"name": name, "description": text} for name, text in SERVICES.items()],
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": _servers(),
        "channels": {channel: body for spec in EVENTS for channel, body in _channels(spec).items()},
        "operations": {name: body for spec in EVENTS for name, body in _operations(spec).items()},
        "components": _components(),
    }


def package_version() -> str:
    """The `carepath-events` version: the document describes what that release ships."""
    project = tomllib.loads(PACKAGE_PROJECT.read_text())["project"]
    return str(project["version"])


def consumer_group(service: str, spec: EventSpec) -> str:
    """The group a service's replicas share for one topic (`shared.messaging.subscriptions`)."""
    return f"carepath-{service}.{spec.name}"


def _servers() -> dict[str, Any]:
    """One placeholder server (named and shaped as in each service's own document)."""
    return {
        KAFKA_SERVER: {
            "host": "{" + KAFKA_BOOTSTRAP_VARIABLE + "}",
            "protocol": "kafka",
            "title": "Carepath's Kafka cluster",
            "description": "The cluster Carepath's services publish to. Plaintext by default (`make run`, "
            "Docker Compose); a deployment secures it with TLS and SASL/SCRAM, one principal per "
            "service and per platform backend, with ACLs to read the topics it consumes and write "
            "its dead-letter topics (`KAFKA_SECURITY_PROTOCOL=SASL_SSL`, "
            "`KAFKA_SASL_MECHANISM=SCRAM-SHA-512`, `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD`, "
            "`KAFKA_SSL_CAFILE`).",
            "variables": {
                KAFKA_BOOTSTRAP_VARIABLE: {
                    "description": "`KAFKA_BOOTSTRAP_SERVERS`: the brokers to bootstrap from, "
                    "`host:port[,host:port...]`. Locally `127.0.0.1:<CAREPATH_KAFKA_PORT>` (9092 unless "
                    "set); in Kubernetes Strimzi's bootstrap Service of the `carepath` cluster.",
                    "default": "127.0.0.1:9092",
                    "examples": ["127.0.0.1:9092", "carepath-kafka-bootstrap:9092"],
                }
            },
        }
    }


def _channels(spec: EventSpec) -> dict[str, Any]:
    return {
        spec.topic: {
            "address": spec.topic,
            "title": spec.name,
            "description": f"{spec.type}, published by {spec.producer} only; "
            f"{DEFAULT_PARTITIONS} partitions by default (`KAFKA_TOPIC_PARTITIONS`).",
            "messages": {_message_id(spec): {"$ref": f"#/components/messages/{_message_id(spec)}"}},
            "bindings": {
                "kafka": {
                    "topic": spec.topic,
                    "partitions": DEFAULT_PARTITIONS,
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        },
        spec.dead_letter_topic: {
            "address": spec.dead_letter_topic,
            "title": spec.dead_letter_topic,
            "description": f"Records of `{spec.topic}` a consumer could never handle: original key, value "
            "and headers, plus why. An operator reads, fixes and replays them.",
            "messages": {_dead_letter_id(spec): {"$ref": f"#/components/messages/{_dead_letter_id(spec)}"}},
            "bindings": {
                "kafka": {
                    "topic": spec.dead_letter_topic,
                    "partitions": DEFAULT_PARTITIONS,
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        },
    }


def _operations(spec: EventSpec) -> dict[str, Any]:
    channel = {"$ref": f"#/channels/{spec.topic}"}
    message = [{"$ref": f"#/channels/{spec.topic}/messages/{_message_id(spec)}"}]
    dead_channel = {"$ref": f"#/channels/{spec.dead_letter_topic}"}
    dead_message = [{"$ref": f"#/channels/{spec.dead_letter_topic}/messages/{_dead_letter_id(spec)}"}]
    operations: dict[str, Any] = {
        f"{spec.producer}.sends.{spec.name}": {
            "action": "send",
            "channel": channel,
            "title": f"{spec.producer} publishes {spec.name}",
            "summary": "Written to the producer's outbox with the state change, then published "
            "(acks=all, idempotent); redelivery is possible, loss is not.",
            "tags": [{"name": spec.producer}],
            "messages": message,
        }
    }
    for consumer in spec.consumers:
        group = consumer_group(consumer, spec)
        operations[f"{consumer}.receives.{spec.name}"] = {
            "action": "receive",
            "channel": channel,
            "title": f"{consumer} consumes {spec.name}",
            "summary": f"Consumer group `{group}`; offsets are committed after the effects are stored.",
            "tags": [{"name": consumer}],
            "messages": message,
            "bindings": {
                "kafka": {
                    "groupId": {"type": "string", "enum": [group]},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        operations[f"{consumer}.dead-letters.{spec.name}"] = {
            "action": "send",
            "channel": dead_channel,
            "title": f"{consumer} dead-letters {spec.name}",
            "summary": "A record that can never be handled (invalid, refused, retries exhausted).",
            "tags": [{"name": consumer}],
            "messages": dead_message,
        }
    return operations


def _components() -> dict[str, Any]:
    messages: dict[str, Any] = {}
    for spec in EVENTS:
        messages[_message_id(spec)] = _message(spec)
        messages[_dead_letter_id(spec)] = _dead_letter_message(spec)
    return {
        "messages": messages,
        "schemas": _schemas(),
        "messageTraits": {
            "CloudEvent": {
                "headers": _headers(HEADERS, required=REQUIRED_HEADERS),
                "correlationId": {"$ref": "#/components/correlationIds/journey"},
                "contentType": CONTENT_TYPE,
            },
            "DeadLetter": {
                # A dead letter keeps the original headers, which may be missing or wrong.
                "headers": _headers(
                    {**HEADERS, **DEAD_LETTER_HEADERS},
                    required=[records.DLQ_REASON, records.DLQ_ERROR, records.DLQ_CONSUMER],
                ),
            },
        },
        "correlationIds": {
            "journey": {
                "description": "One client's journey across services and topics.",
                "location": "$message.header#/correlation_id",
            }
        },
    }


def _message(spec: EventSpec) -> dict[str, Any]:
    doc = (spec.model.__doc__ or "").strip()
    return {
        "name": spec.name,
        "title": spec.name,
        "summary": doc.split("\n\n")[0].replace("\n", " ") if doc else f"The data of {spec.type}.",
        "description": f"`ce_type` {spec.type}; `ce_source` {spec.source}; "
        f"`ce_dataschema` {spec.dataschema}; key and `ce_subject`: `{spec.key_field}`.",
        "contentType": CONTENT_TYPE,
        "traits": [{"$ref": "#/components/messageTraits/CloudEvent"}],
        "payload": {"$ref": f"{SCHEMAS}{spec.model.__name__}"},
        "bindings": {"kafka": {"key": _key(spec), "bindingVersion": KAFKA_BINDING_VERSION}},
        "examples": [{"name": "headers", "summary": "Headers of such an event.", "headers": _example(spec)}],
    }


def _dead_letter_message(spec: EventSpec) -> dict[str, Any]:
    return {
        "name": spec.dead_letter_topic,
        "title": f"{spec.name} (dead letter)",
        "summary": f"A record of `{spec.topic}` that could not be handled, byte for byte, with why.",
        "description": "The value is the original value: usually the event's data, but a record "
        "dead-lettered as invalid may not match the schema (that is why it is here).",
        "contentType": CONTENT_TYPE,
        "traits": [{"$ref": "#/components/messageTraits/DeadLetter"}],
        "payload": {"$ref": f"{SCHEMAS}{spec.model.__name__}"},
        "bindings": {"kafka": {"key": _key(spec), "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _key(spec: EventSpec) -> dict[str, Any]:
    return {
        "type": "string",
        "pattern": ID_PATTERN,
        "description": f"`{spec.key_field}` of the data: one subject's events keep their order.",
    }


def _example(spec: EventSpec) -> dict[str, str]:
    subject = {"client_id": "client-1", "therapist_id": "therapist-1"}.get(spec.key_field, "recipient-1")
    return {
        "ce_specversion": SPEC_VERSION,
        "ce_id": "5f0c3b8e-2a41-4c7e-9d0b-7c1e2f3a4b5c",
        "ce_source": spec.source,
        "ce_type": spec.type,
        "ce_time": "2026-11-26T10:00:00.000000Z",
        "ce_subject": subject,
        "ce_dataschema": spec.dataschema,
        "content-type": CONTENT_TYPE,
        "correlation_id": "0e6f2b1a-7d3c-4f5e-8a9b-1c2d3e4f5a6b",
        "causation_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    }


def _headers(properties: dict[str, dict[str, Any]], *, required: list[str]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _schemas() -> dict[str, Any]:
    _, schemas = models_json_schema(
        [(spec.model, "serialization") for spec in EVENTS], ref_template=SCHEMAS + "{model}"
    )
    return dict(sorted(schemas["$defs"].items()))


def _message_id(spec: EventSpec) -> str:
    return spec.model.__name__


def _dead_letter_id(spec: EventSpec) -> str:
    return f"{spec.model.__name__}DeadLetter"


def rendered() -> str:
    header = "# Generated by `python -m shared.events.export_asyncapi` from the topic registry and models.\n"
    return header + "".join(f"{line}\n" for line in _yaml(document(), 0))


def _yaml(node: Any, indent: int) -> Iterator[str]:
    """Block-style YAML of JSON data: small, dependency-free (the image has no YAML library).

    Strings are plain when nothing could read them as another type, literal blocks when
    they span lines, and JSON-quoted otherwise (a JSON string is a valid YAML scalar), so
    the text loads back to exactly `node` (a unit test holds it).
    """
    pad = " " * indent
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        lead = f"{pad}{_scalar(key)}:" if isinstance(node, dict) else f"{pad}-"
        if isinstance(value, dict | list) and value:
            if isinstance(node, dict):
                yield lead
                yield from _yaml(value, indent + 2)
            else:  # a list item opens its first line with "- "
                nested = list(_yaml(value, indent + 2))
                yield f"{lead} {nested[0].lstrip()}"
                yield from nested[1:]
        elif isinstance(value, str) and "\n" in value.rstrip("\n") and _literal_safe(value):
            chomping = "" if value.endswith("\n") else "-"  # keep the one final newline, or none
            yield f"{lead} |{chomping}"
            yield from (f"{pad}  {line}" if line else "" for line in value.rstrip("\n").split("\n"))
        else:
            yield f"{lead} {_scalar(value)}"


_PLAIN = re.compile(r"^[A-Za-z_$/][A-Za-z0-9_$/.,()`'<>*@+ -]*$")
_RESERVED = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"})


def _scalar(value: Any) -> str:
    if not isinstance(value, str):
        return json.dumps(value)  # numbers, booleans, null, and empty objects and lists
    plain = _PLAIN.match(value) and value.lower() not in _RESERVED and not value.endswith(" ")
    return value if plain else json.dumps(value, ensure_ascii=False)


def _literal_safe(value: str) -> bool:
    lines = value.rstrip("\n").split("\n")
    return (
        not value.startswith((" ", "\t"))
        and not value.endswith("\n\n")
        and all(line == line.rstrip() for line in lines)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_file", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="fail if the committed document is stale")
    args = parser.parse_args(argv)
    text = rendered()
    if args.check:
        if not args.out_file.exists() or args.out_file.read_text() != text:
            print(f"stale: {args.out_file} (run `python -m shared.events.export_asyncapi`)", file=sys.stderr)
            return 1
        return 0
    args.out_file.parent.mkdir(parents=True, exist_ok=True)
    args.out_file.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
