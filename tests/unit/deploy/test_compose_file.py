"""What `docker compose up` will do, proved without a Docker engine.

The compose file, its helper scripts and the Dockerfile are read as data (PyYAML and
plain text); the topic script runs against a stand-in for Kafka's `kafka-topics.sh`.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.events.registry import EVENTS, dead_letter_topic

REPO = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO / "docker-compose.yml"
CREATE_TOPICS = REPO / "deploy/docker/create-topics.sh"
MONGO_HEALTHCHECK = REPO / "deploy/docker/mongo-replica-set.js"
GATEWAY_CONFIG = REPO / "deploy/docker/gateway.Caddyfile"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PYPROJECT = REPO / "pyproject.toml"
MAKEFILE = REPO / "Makefile"

# Every event topic (DESIGN §1 and §3), from the topic registry the services use.
EVENT_TOPICS: tuple[str, ...] = tuple(spec.topic for spec in EVENTS)
# The services' local HTTP ports (DESIGN §7), which the gateway publishes.
SERVICE_PORTS = {"intake": 8001, "matching": 8002, "scheduling": 8003, "notifications": 8004}
SERVICE_ANCHOR = "x-carepath-service"


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def service(name: str) -> dict[str, Any]:
    return load_compose()["services"][name]


def environment_of(definition: dict[str, Any]) -> dict[str, str]:
    env = definition.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def script_topics() -> list[str]:
    """The EVENT_TOPICS block of create-topics.sh, one topic a line."""
    match = re.search(r'^EVENT_TOPICS="\n(.*?)\n"', CREATE_TOPICS.read_text(), re.DOTALL | re.MULTILINE)
    assert match, "create-topics.sh has no EVENT_TOPICS block"
    return match.group(1).split()


def host_part(port: str | int | dict[str, Any]) -> str:
    """The host side of a `ports:` entry ("" when Docker picks a free port)."""
    if isinstance(port, dict):
        return str(port.get("published", ""))
    parts = str(port).split(":")
    return parts[-2] if len(parts) >= 2 else ""


def recipe_service(name: str) -> dict[str, Any]:
    """The service entry that the file's header recipe produces for `name`."""
    text = COMPOSE_FILE.read_text()
    match = re.search(
        r"^# --- service entry recipe ---\n(.*?)^# --- end of recipe ---",
        text,
        re.DOTALL | re.MULTILINE,
    )
    assert match, "the header lost its service entry recipe"
    entry = "\n".join(line.removeprefix("# ") for line in match.group(1).splitlines())
    entry = entry.replace("matching", name)
    extended = text.replace("\nservices:\n", "\nservices:\n" + entry + "\n", 1)
    return yaml.safe_load(extended)["services"][name]


# ------------------------------------------------------------------------ the file


def test_compose_file_parses_and_uses_the_compose_spec_without_a_version_key() -> None:
    compose = load_compose()
    assert "version" not in compose
    assert {"kafka", "kafka-topics", "mongodb", "gateway"} <= set(compose["services"])


def test_every_depends_on_names_a_defined_service() -> None:
    compose = load_compose()
    defined = set(compose["services"])
    owners = {**compose["services"], SERVICE_ANCHOR: compose[SERVICE_ANCHOR]}
    for owner, definition in owners.items():
        for dependency in definition.get("depends_on", {}):
            assert dependency in defined, f"{owner} depends on undefined {dependency}"


def test_named_volumes_are_declared_and_bind_mounted_files_exist() -> None:
    compose = load_compose()
    for name, definition in compose["services"].items():
        for volume in definition.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).is_file(), f"{name} mounts missing {source}"
            elif source.startswith("/"):  # the Docker socket, for the tests container alone
                assert (name, source) == ("tests", "/var/run/docker.sock"), f"{name} mounts {source}"
            else:
                assert source in compose["volumes"], f"{name} uses undeclared volume {source}"


# ------------------------------------------------------------------------ Kafka


def test_kafka_runs_in_kraft_combined_mode_without_zookeeper() -> None:
    kafka = service("kafka")
    env = environment_of(kafka)
    assert kafka["image"].startswith("apache/kafka:4.1.")
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert env["CLUSTER_ID"]
    assert not any("ZOOKEEPER" in key for key in env)
    assert not any("zookeeper" in str(s.get("image", "")) for s in load_compose()["services"].values())


def test_kafka_advertises_kafka_9092_to_containers_and_localhost_to_the_host() -> None:
    kafka = service("kafka")
    env = environment_of(kafka)
    advertised = env["KAFKA_ADVERTISED_LISTENERS"]
    assert "PLAINTEXT://kafka:9092" in advertised
    host_listener = re.search(r"HOST://localhost:(\S+?)(,|$)", advertised)
    assert host_listener, advertised
    # The advertised host port is the published one, or host clients are sent elsewhere.
    assert any(port.endswith(f":{host_listener.group(1)}:9094") for port in kafka["ports"])


def test_kafka_single_broker_needs_replication_factor_one_everywhere() -> None:
    env = environment_of(service("kafka"))
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_DEFAULT_REPLICATION_FACTOR",
    ):
        assert env[key] == "1", key
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"
    assert env["KAFKA_NUM_PARTITIONS"] == "${KAFKA_PARTITIONS:-6}"


def test_kafka_is_healthy_only_when_the_broker_answers() -> None:
    kafka = service("kafka")
    test = " ".join(kafka["healthcheck"]["test"])
    assert "kafka-broker-api-versions.sh --bootstrap-server localhost:9092" in test
    assert any(volume.endswith(":/var/lib/kafka/data") for volume in kafka["volumes"])


# ------------------------------------------------------------------------ MongoDB


def test_mongodb_runs_as_the_replica_set_the_services_connect_to() -> None:
    mongodb = service("mongodb")
    command = mongodb["command"]
    replica_set = command[command.index("--replSet") + 1]
    assert "--bind_ip_all" in command
    assert mongodb["image"].startswith("mongo:")
    uri = environment_of(load_compose()[SERVICE_ANCHOR])["MONGODB_URI"]
    assert uri == f"mongodb://mongodb:27017/?replicaSet={replica_set}"


def test_mongodb_healthcheck_initiates_the_replica_set_and_waits_for_a_primary() -> None:
    mongodb = service("mongodb")
    test = mongodb["healthcheck"]["test"]
    script_in_container = test[-1]
    assert test[:2] == ["CMD", "mongosh"]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in mongodb["volumes"] if v.startswith(".")}
    assert (REPO / mounted[script_in_container]).resolve() == MONGO_HEALTHCHECK
    script = MONGO_HEALTHCHECK.read_text()
    replica_set = mongodb["command"][mongodb["command"].index("--replSet") + 1]
    assert "rs.status()" in script
    assert (
        f'rs.initiate({{ _id: "{replica_set}", members: [{{ _id: 0, host: "mongodb:27017" }}] }})' in script
    )
    assert "isWritablePrimary" in script and "quit(1)" in script


# ------------------------------------------------------------------------ topics


def test_topic_script_lists_every_event_topic_once() -> None:
    topics = script_topics()
    assert len(topics) == len(set(topics))
    assert set(topics) == set(EVENT_TOPICS)


@pytest.fixture
def fake_kafka_topics(tmp_path: Path) -> tuple[Path, Path]:
    """A kafka-topics.sh stand-in that records its arguments, one call a line."""
    calls = tmp_path / "calls.log"
    fake = tmp_path / "kafka-topics.sh"
    fake.write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return fake, calls


def without_kafka_login(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment without the test run's own Kafka login (the script would use it)."""
    return {name: value for name, value in environ.items() if not name.startswith("KAFKA_SASL_")}


def run_create_topics(fake: Path, **env: str) -> subprocess.CompletedProcess[str]:
    assert shutil.which("sh"), "needs a POSIX sh"
    return subprocess.run(
        ["sh", str(CREATE_TOPICS)],
        env={**without_kafka_login(os.environ), "KAFKA_TOPICS_BIN": str(fake), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_topic_script_creates_every_topic_and_its_dlq_idempotently(
    fake_kafka_topics: tuple[Path, Path],
) -> None:
    fake, calls = fake_kafka_topics
    result = run_create_topics(fake, KAFKA_PARTITIONS="9", KAFKA_BOOTSTRAP_SERVERS="broker:1")
    assert result.returncode == 0, result.stderr
    created: dict[str, str] = {}
    for call in calls.read_text().splitlines():
        topic = re.search(r"--topic (\S+)", call)
        assert topic, call
        created[topic.group(1)] = call
    expected = set(EVENT_TOPICS) | {dead_letter_topic(topic) for topic in EVENT_TOPICS}
    assert set(created) == expected
    for topic, call in created.items():
        assert "--bootstrap-server broker:1 --create --if-not-exists" in call, topic
        assert "--partitions 9 --replication-factor 1" in call, topic


def test_topic_script_fails_when_any_topic_cannot_be_created(tmp_path: Path) -> None:
    failing = tmp_path / "kafka-topics.sh"
    failing.write_text('#!/bin/sh\ncase "$*" in *"risk-flagged.dlq"*) exit 3;; esac\n')
    failing.chmod(failing.stat().st_mode | stat.S_IEXEC)
    result = run_create_topics(failing)
    assert result.returncode != 0


def test_kafka_topics_runs_the_mounted_script_once_kafka_is_healthy() -> None:
    topics = service("kafka-topics")
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert topics["image"] == service("kafka")["image"]  # same kafka-topics.sh as the broker
    script_in_container = topics["command"][-1]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in topics["volumes"]}
    assert (REPO / mounted[script_in_container]).resolve() == CREATE_TOPICS
    assert environment_of(topics)["KAFKA_PARTITIONS"] == "${KAFKA_PARTITIONS:-6}"
    assert topics["restart"] == "no"


# ------------------------------------------------------------------------ the services


def test_service_anchor_waits_for_topics_with_their_acls_and_a_healthy_mongodb() -> None:
    anchor = load_compose()[SERVICE_ANCHOR]
    assert anchor["depends_on"] == {
        "kafka-access": {"condition": "service_completed_successfully"},
        "mongodb": {"condition": "service_healthy"},
    }
    env = environment_of(anchor)
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert anchor["build"] == {
        "context": ".",
        "dockerfile": "Dockerfile",
        "target": "service",
        "args": {"PYTHON_IMAGE": "${PYTHON_IMAGE:-python:3.11-slim-bookworm}"},
    }
    assert anchor["restart"] == "unless-stopped"
    assert "/healthz" in " ".join(anchor["healthcheck"]["test"])


def test_service_anchor_leaves_room_for_scaling() -> None:
    anchor = load_compose()[SERVICE_ANCHOR]
    assert "container_name" not in anchor
    assert all(host_part(port) == "" for port in anchor.get("ports", []))
    # Draining on SIGTERM needs longer than Docker's 10 s default.
    assert int(anchor["stop_grace_period"].removesuffix("s")) >= 30


def test_service_recipe_in_the_header_gives_a_scalable_service_of_the_right_image() -> None:
    entry = recipe_service("scheduling")
    anchor = load_compose()[SERVICE_ANCHOR]
    assert entry["build"] == {**anchor["build"], "args": {**anchor["build"]["args"], "SERVICE": "scheduling"}}
    assert entry["image"] == "carepath/scheduling:${CAREPATH_TAG:-dev}"
    assert entry["depends_on"] == anchor["depends_on"]
    assert entry["environment"] == {
        **anchor["environment"],
        "KAFKA_SASL_USERNAME": "scheduling",
        "KAFKA_SASL_PASSWORD": (
            "${KAFKA_SCHEDULING_PASSWORD:-carepath-local-kafka-scheduling-do-not-use-in-production}"
        ),
    }
    assert entry.get("ports") == anchor.get("ports")
    assert "container_name" not in entry


def test_every_built_service_can_be_scaled() -> None:
    """Services added later (those built from the Dockerfile) must keep --scale working."""
    for name, definition in load_compose()["services"].items():
        if "build" not in definition:
            continue
        assert "container_name" not in definition, name
        for port in definition.get("ports", []):
            assert host_part(port) == "", f"{name} pins host port {port}; the gateway publishes it"


def test_gateway_publishes_each_service_port_and_balances_over_its_replicas() -> None:
    gateway = service("gateway")
    caddyfile = GATEWAY_CONFIG.read_text()
    mounted = {v.split(":")[1]: v.split(":")[0] for v in gateway["volumes"]}
    assert (REPO / mounted["/etc/caddy/Caddyfile"]).resolve() == GATEWAY_CONFIG
    for name, port in SERVICE_PORTS.items():
        assert f"127.0.0.1:{port}:{port}" in gateway["ports"]
        site = re.search(rf"^:{port} \{{\n(.*?)^\}}", caddyfile, re.DOTALL | re.MULTILINE)
        assert site, f"no site for :{port}"
        assert f"dynamic a {name} 8000" in site.group(1)


# ------------------------------------------------------------------------ the image


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") and not pending:
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    pairs = []
    for line in logical:
        if line.strip():
            instruction, _, arguments = line.strip().partition(" ")
            pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction, arguments in dockerfile_instructions():
        if instruction == "FROM":
            result.append([])
        if result:
            result[-1].append((instruction, arguments))
    return result


def stage(name: str) -> list[tuple[str, str]]:
    """The Dockerfile stage `FROM ... AS <name>`."""
    (found,) = [s for s in stages() if s[0][1].endswith(f"AS {name}")]
    return found


def test_dockerfile_builds_in_stages_and_ships_only_the_venv() -> None:
    uv, builder, runtime = stage("uv"), stage("builder"), stage("runtime")
    uv_text = " ".join(arguments for _, arguments in uv)
    builder_text = " ".join(arguments for _, arguments in builder)
    assert "uv==0.13.8" in uv_text
    for setting in ("UV_PYTHON_DOWNLOADS=never", "UV_COMPILE_BYTECODE=1", "UV_LINK_MODE=copy"):
        assert setting in uv_text
    assert builder[0] == ("FROM", "uv AS builder")
    assert "uv sync --frozen --no-default-groups --no-install-project" in builder_text
    assert "uv sync --frozen --no-default-groups --no-editable" in builder_text
    copies = [arguments for instruction, arguments in runtime if instruction == "COPY"]
    assert copies == ["--from=builder /app/.venv /app/.venv"]


def uv_syncs(stage_name: str) -> list[list[str]]:
    """The options of each `uv sync` a stage runs."""
    return [
        arguments.split("uv sync", 1)[1].split()
        for instruction, arguments in stage(stage_name)
        if instruction == "RUN" and "uv sync" in arguments
    ]


def test_the_service_image_installs_no_dependency_group() -> None:
    """dev, demo and sinks are default groups for `make`; the image asks for none of them."""
    syncs = uv_syncs("builder")
    assert len(syncs) == 2
    for options in syncs:
        assert "--no-default-groups" in options
        assert not [option for option in options if option.startswith(("--group", "--all-groups", "--only"))]


def test_make_installs_every_dependency_group_by_default() -> None:
    """`make run`, `make test` and `make demo` get the demo, the sinks and the test tools."""
    pyproject = tomllib.loads(PYPROJECT.read_text())
    groups = set(pyproject["dependency-groups"])
    assert {"dev", "demo", "sinks"} <= groups
    assert set(pyproject["tool"]["uv"]["default-groups"]) == groups
    installs = [line.split() for line in MAKEFILE.read_text().splitlines() if "$(UV) sync" in line]
    assert installs, "the Makefile no longer installs with uv sync"
    for options in installs:
        assert "--frozen" in options
        assert not [option for option in options if "group" in option or option in ("--no-dev", "--only-dev")]


def test_dockerfile_takes_a_service_build_arg_and_runs_that_service() -> None:
    runtime = dict(stage("runtime"))
    assert stages()[-1] == [("FROM", "runtime AS service")], "the default target is the service image"
    assert runtime["ARG"] == "SERVICE"
    assert "CAREPATH_SERVICE=${SERVICE}" in runtime["ENV"]
    assert 'python -m \\"services.${CAREPATH_SERVICE}\\"' in runtime["CMD"]
    assert runtime["EXPOSE"] == "8000 9000"  # the API, and metrics on a port of their own
    assert "http://127.0.0.1:8000/healthz" in runtime["HEALTHCHECK"]


def test_dockerfile_runs_as_a_numeric_non_root_user() -> None:
    users = [arguments for instruction, arguments in stage("runtime") if instruction == "USER"]
    assert users, "the runtime stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_the_local_sinks_have_a_stage_of_their_own_and_stay_out_of_service_images() -> None:
    sinks = dict(stage("sinks"))
    assert sinks["FROM"] == "base AS sinks"
    assert "deploy.local.sinks" in sinks["CMD"]
    runtime_copies = [a for i, a in stage("runtime") if i == "COPY"]
    assert not [a for a in runtime_copies if "deploy" in a]
    compose_sinks = load_compose()["services"]["sinks"]
    assert compose_sinks["build"]["target"] == "sinks"


def test_the_sinks_image_holds_the_sinks_group_alone_and_runs_as_non_root() -> None:
    """Its venv is the `sinks` group (aiosmtpd), not the service's venv with it on top."""
    assert uv_syncs("sinks-builder") == [["--frozen", "--only-group", "sinks"]]
    sinks = stage("sinks")
    venvs = [a for i, a in sinks if i == "COPY" and "/app/.venv" in a]
    assert venvs == ["--from=sinks-builder /app/.venv /app/.venv"]
    (user,) = [a for i, a in sinks if i == "USER"]
    assert user.split(":")[0].isdigit() and int(user.split(":")[0]) != 0
    assert stage("runtime")[0] == ("FROM", "base AS runtime")


def test_dockerignore_keeps_local_state_out_but_the_sources_in() -> None:
    ignored = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    assert {".venv", ".git", ".local", ".pytest_cache", "bench-results"} <= ignored
    # The service stages copy the first five; the `tests` stage also tests/ and deploy/.
    copied = {"pyproject.toml", "uv.lock", "README.md", "shared", "services", "tests", "deploy"}
    assert not copied & ignored


def test_every_service_with_an_entry_point_runs_in_compose_from_its_own_image() -> None:
    services = load_compose()["services"]
    for main in sorted(REPO.glob("services/*/__main__.py")):
        name = main.parent.name
        assert services[name]["build"]["args"] == {
            "PYTHON_IMAGE": "${PYTHON_IMAGE:-python:3.11-slim-bookworm}",
            "SERVICE": name,
        }, name
        assert services[name]["image"] == f"carepath/{name}:${{CAREPATH_TAG:-dev}}", name
