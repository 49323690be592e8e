"""`make compose-up`/`compose-test` (deploy/compose): what it builds and runs agrees with the files.

The driver itself is run for real by `make compose-test`; these check, without Docker, the
pieces that would otherwise drift apart silently: image names, the override's services,
the classic-builder-safe Dockerfile and how replicas sharing partitions are read.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import yaml

from deploy.compose.cli import members_with_partitions
from deploy.compose.images import LOCAL, OFFICIAL, SERVICES
from deploy.local.launcher.layout import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
LOCAL_OVERRIDE = yaml.safe_load((REPO_ROOT / "deploy/docker/compose.local-images.yml").read_text())
JOURNEY_OVERRIDE = yaml.safe_load((REPO_ROOT / "deploy/docker/compose.journey.yml").read_text())
DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


def image_of(definition: dict[str, Any]) -> str:
    return str(definition["image"])


def test_the_official_images_the_driver_probes_are_the_ones_compose_and_the_dockerfile_name() -> None:
    services = COMPOSE["services"]
    assert image_of(services["kafka"]) == image_of(services["kafka-topics"]) == OFFICIAL["kafka"]
    assert image_of(services["mongodb"]) == OFFICIAL["mongodb"]
    assert image_of(services["gateway"]) == OFFICIAL["gateway"]
    assert f"ARG PYTHON_IMAGE={OFFICIAL['python']}" in DOCKERFILE
    assert (
        COMPOSE["x-carepath-service"]["build"]["args"]["PYTHON_IMAGE"]
        == f"${{PYTHON_IMAGE:-{OFFICIAL['python']}}}"
    )


def test_the_local_override_swaps_every_official_image_for_a_local_one_and_names_only_real_services() -> None:
    overridden = LOCAL_OVERRIDE["services"]
    assert set(overridden) <= set(COMPOSE["services"])
    assert image_of(overridden["kafka"]) == image_of(overridden["kafka-topics"]) == LOCAL["kafka"]
    assert image_of(overridden["mongodb"]) == LOCAL["mongodb"]
    assert image_of(overridden["gateway"]) == LOCAL["gateway"]
    for name in (*SERVICES, "sinks", "tests"):
        assert overridden[name]["build"]["args"]["PYTHON_IMAGE"] == LOCAL["python"], name


def test_on_ferretdb_the_services_and_the_suite_connect_without_a_replica_set() -> None:
    """FerretDB answers no replica-set handshake: `replicaSet=rs0` would find no primary."""
    for name in (*SERVICES, "tests"):
        uri = LOCAL_OVERRIDE["services"][name]["environment"]["MONGODB_URI"]
        assert "replicaSet" not in uri, name


def test_the_journey_clock_reaches_every_service_and_the_suite() -> None:
    assert set(JOURNEY_OVERRIDE["services"]) == {*SERVICES, "tests"}
    for definition in JOURNEY_OVERRIDE["services"].values():
        assert definition["environment"]["DEMO_CLOCK_SPEED"] == "3600"
        assert definition["environment"]["DEMO_CLOCK_EPOCH"].startswith("${DEMO_CLOCK_EPOCH")


def test_the_dockerfile_builds_with_the_classic_builder_and_without_docker_hub() -> None:
    assert not re.search(r"^#\s*syntax=", DOCKERFILE, re.MULTILINE), "BuildKit would fetch the frontend image"
    assert "--mount=" not in DOCKERFILE, "cache mounts need BuildKit"


def test_the_dockerfile_stages_let_the_classic_builder_stop_early() -> None:
    """The classic builder runs every stage before its target: the service comes last."""
    stages = re.findall(r"^FROM \S+ AS (\S+)$", DOCKERFILE, re.MULTILINE)
    assert stages[-1] == "service"
    assert stages.index("sinks") < stages.index("builder")


def test_every_service_listens_on_8000_in_a_container_by_default() -> None:
    """The image's health check, the gateway and Kubernetes all knock on 8000."""
    for name in SERVICES:
        settings_module = importlib.import_module(f"services.{name}.settings")
        (settings_class,) = [
            value
            for key, value in vars(settings_module).items()
            if key.endswith("Settings") and key.lower().startswith(name) and isinstance(value, type)
        ]
        assert settings_class.model_fields["http_port"].default == 8000, name


def test_replicas_sharing_a_group_are_counted_by_host_from_the_describe_output() -> None:
    described = """
GROUP                              CONSUMER-ID   HOST          CLIENT-ID     #PARTITIONS
carepath-matching.intake-completed matching-a    /172.18.0.9   matching-a    1
carepath-matching.intake-completed matching-b    /172.18.0.9   matching-b    1
carepath-matching.intake-completed matching-c    /172.18.0.10  matching-c    2
carepath-matching.intake-completed matching-d    /172.18.0.11  matching-d    2
carepath-matching.intake-completed matching-e    /172.18.0.11  matching-e    0
"""
    hosts, members, partitions = members_with_partitions(described)
    assert hosts == {"/172.18.0.9", "/172.18.0.10", "/172.18.0.11"}
    assert (members, partitions) == (4, 6)
