"""The Kubernetes manifests under deploy/k8s, checked as data (PyYAML).

When `kubectl` is on the PATH, every kustomization is also built with its embedded
kustomize, which proves the overlays resolve the way an operator's `kubectl apply -k`
will; no cluster is needed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.events.registry import EVENTS, dead_letter_topic

REPO = Path(__file__).resolve().parents[3]
K8S = REPO / "deploy/k8s"
SERVICES = ("intake", "matching", "scheduling", "notifications")

# Every event topic (DESIGN §1 and §3), from the topic registry the services use.
EVENT_TOPICS: tuple[str, ...] = tuple(spec.topic for spec in EVENTS)
KAFKA_CLUSTER = "carepath"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def all_documents() -> list[dict[str, Any]]:
    return [doc for path in sorted(K8S.rglob("*.yaml")) for doc in documents(path)]


def of_kind(kind: str, under: Path = K8S) -> list[dict[str, Any]]:
    found = []
    for path in sorted(under.rglob("*.yaml")):
        found += [doc for doc in documents(path) if doc.get("kind") == kind]
    return found


def one(kind: str, under: Path) -> dict[str, Any]:
    found = of_kind(kind, under)
    assert len(found) == 1, f"expected one {kind} under {under}, found {len(found)}"
    return found[0]


def base_container() -> dict[str, Any]:
    deployment = one("Deployment", K8S / "services/base")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def overlay_mongodb_secret(overlay: dict[str, Any]) -> str:
    """The Secret the overlay's patch points MONGODB_URI at."""
    for entry in overlay["patches"]:
        patch = yaml.safe_load(entry["patch"])
        for container in patch["spec"]["template"]["spec"]["containers"]:
            for env in container.get("env", []):
                if env["name"] == "MONGODB_URI":
                    return str(env["valueFrom"]["secretKeyRef"]["name"])
    raise AssertionError("overlay does not set MONGODB_URI")


# ------------------------------------------------------------------------ all files


def test_every_yaml_file_parses_and_each_document_names_its_kind() -> None:
    paths = sorted(K8S.rglob("*.yaml"))
    assert paths
    for path in paths:
        for doc in documents(path):
            assert doc.get("apiVersion") and doc.get("kind"), path


def test_every_kustomization_lists_resources_that_exist() -> None:
    for kustomization in K8S.rglob("kustomization.yaml"):
        for resource in yaml.safe_load(kustomization.read_text()).get("resources", []):
            target = kustomization.parent / resource
            assert target.is_file() or (target / "kustomization.yaml").is_file(), (
                f"{kustomization} lists missing {resource}"
            )


# ------------------------------------------------------------------------ Kafka


def test_every_topic_and_its_dlq_has_a_kafka_topic() -> None:
    names = [topic["metadata"]["name"] for topic in of_kind("KafkaTopic")]
    expected = set(EVENT_TOPICS) | {dead_letter_topic(topic) for topic in EVENT_TOPICS}
    assert len(names) == len(set(names))
    assert set(names) == expected


def test_every_kafka_topic_survives_one_broker_loss_with_six_partitions() -> None:
    for topic in of_kind("KafkaTopic"):
        name = topic["metadata"]["name"]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == KAFKA_CLUSTER, name
        assert topic["spec"]["partitions"] == 6, name
        assert topic["spec"]["replicas"] == 3, name
        assert topic["spec"]["config"]["min.insync.replicas"] == 2, name


def test_kafka_cluster_runs_kraft_on_a_three_node_pool() -> None:
    kafka = one("Kafka", K8S / "kafka")
    pool = one("KafkaNodePool", K8S / "kafka")
    assert kafka["metadata"]["name"] == KAFKA_CLUSTER
    assert kafka["apiVersion"] == pool["apiVersion"] == "kafka.strimzi.io/v1"
    annotations = kafka["metadata"]["annotations"]
    assert annotations["strimzi.io/node-pools"] == annotations["strimzi.io/kraft"] == "enabled"
    assert "zookeeper" not in kafka["spec"]
    assert str(kafka["spec"]["kafka"]["version"]).startswith("4.1.")
    assert kafka["spec"]["entityOperator"]["topicOperator"] is not None
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == KAFKA_CLUSTER
    assert pool["spec"]["replicas"] == 3
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}


def test_services_bootstrap_from_the_strimzi_cluster() -> None:
    kustomization = yaml.safe_load((K8S / "services/base/kustomization.yaml").read_text())
    literals = kustomization["configMapGenerator"][0]["literals"]
    assert f"KAFKA_BOOTSTRAP_SERVERS={KAFKA_CLUSTER}-kafka-bootstrap:9092" in literals


# ------------------------------------------------------------------------ MongoDB


def test_mongodb_is_a_three_member_replica_set_of_version_8_0() -> None:
    mongodb = one("MongoDBCommunity", K8S / "mongodb")
    assert mongodb["apiVersion"] == "mongodbcommunity.mongodb.com/v1"
    assert mongodb["spec"]["type"] == "ReplicaSet"
    assert mongodb["spec"]["members"] == 3
    assert str(mongodb["spec"]["version"]).startswith("8.0.")
    assert mongodb["spec"]["security"]["authentication"]["modes"] == ["SCRAM"]


def test_each_service_has_a_scram_user_limited_to_its_own_database() -> None:
    users = {user["name"]: user for user in one("MongoDBCommunity", K8S / "mongodb")["spec"]["users"]}
    assert set(users) == set(SERVICES)
    for service, user in users.items():
        assert user["roles"] == [{"name": "readWrite", "db": f"carepath_{service}"}], service
        assert user["passwordSecretRef"]["name"] == f"carepath-mongodb-{service}-password"


def test_no_secret_values_are_committed() -> None:
    assert of_kind("Secret") == []


# ------------------------------------------------------------------------ services


def test_base_deployment_probes_readyz_for_traffic_and_healthz_for_liveness() -> None:
    container = base_container()
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["ports"] == [{"name": "http", "containerPort": 8000}]


def test_base_deployment_drains_on_sigterm_as_a_non_root_pod() -> None:
    deployment = one("Deployment", K8S / "services/base")
    pod = deployment["spec"]["template"]
    assert pod["spec"]["terminationGracePeriodSeconds"] == 45
    assert "replicas" not in deployment["spec"]  # the HPA owns the count
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["securityContext"]["runAsUser"] != 0
    container = base_container()
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"


def test_base_deployment_reads_settings_from_a_config_map_and_secrets() -> None:
    container = base_container()
    sources = [next(iter(source)) for source in container["envFrom"]]
    assert sources == ["configMapRef", "secretRef"]
    uri = next(env for env in container["env"] if env["name"] == "MONGODB_URI")
    assert uri["valueFrom"]["secretKeyRef"]["key"] == "connectionString.standard"


def test_autoscaler_targets_the_deployment_and_stays_within_the_partitions() -> None:
    hpa = one("HorizontalPodAutoscaler", K8S / "services/base")
    deployment = one("Deployment", K8S / "services/base")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    partitions = min(topic["spec"]["partitions"] for topic in of_kind("KafkaTopic"))
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= partitions


def test_service_and_disruption_budget_select_the_deployment_pods() -> None:
    base = K8S / "services/base"
    pod_labels = one("Deployment", base)["spec"]["template"]["metadata"]["labels"]
    selectors = [
        one("Service", base)["spec"]["selector"],
        one("PodDisruptionBudget", base)["spec"]["selector"]["matchLabels"],
        one("Deployment", base)["spec"]["selector"]["matchLabels"],
    ]
    for selector in selectors:
        assert selector.items() <= pod_labels.items()


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_overlay_names_its_image_settings_and_database_user(service: str) -> None:
    overlay = yaml.safe_load((K8S / f"services/{service}/kustomization.yaml").read_text())
    assert overlay["resources"] == ["../base"]
    assert overlay["nameSuffix"] == f"-{service}"
    assert overlay["labels"][0]["pairs"] == {"app.kubernetes.io/name": service}
    assert overlay["images"][0]["name"] == "carepath-service"
    assert overlay["images"][0]["newName"].endswith(f"carepath-{service}")
    assert f"CAREPATH_SERVICE={service}" in overlay["configMapGenerator"][0]["literals"]
    users = one("MongoDBCommunity", K8S / "mongodb")["spec"]["users"]
    written = {user["name"]: user["connectionStringSecretName"] for user in users}
    assert overlay_mongodb_secret(overlay) == written[service]


def test_top_level_kustomization_deploys_every_service_in_one_namespace() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["namespace"] == "carepath"
    assert {f"services/{service}" for service in SERVICES} <= set(kustomization["resources"])
    assert {"kafka", "mongodb"} <= set(kustomization["resources"])


# ------------------------------------------------------------------------ kustomize


def kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its embedded kustomize) is not installed")
    built = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


@pytest.mark.parametrize("service", SERVICES)
def test_service_overlay_builds_into_named_resources_wired_together(service: str) -> None:
    resources = {doc["kind"]: doc for doc in kustomize(K8S / f"services/{service}")}
    name = f"carepath-{service}"
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        assert resources[kind]["metadata"]["name"] == name, kind
    assert resources["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == name
    pod = resources["Deployment"]["spec"]["template"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == service
    assert resources["Service"]["spec"]["selector"]["app.kubernetes.io/name"] == service
    (container,) = pod["spec"]["containers"]
    assert container["image"].split(":")[0].endswith(f"carepath-{service}")
    config_map = resources["ConfigMap"]
    assert config_map["data"]["CAREPATH_SERVICE"] == service
    assert container["envFrom"][0]["configMapRef"]["name"] == config_map["metadata"]["name"]
    uri = next(env for env in container["env"] if env["name"] == "MONGODB_URI")
    assert uri["valueFrom"]["secretKeyRef"]["name"] == f"carepath-mongodb-{service}"


def test_everything_builds_into_the_carepath_namespace() -> None:
    built = kustomize(K8S)
    namespaced = [doc for doc in built if doc["kind"] != "Namespace"]
    assert {doc["metadata"].get("namespace") for doc in namespaced} == {"carepath"}
    kinds = [doc["kind"] for doc in built]
    assert kinds.count("Deployment") == kinds.count("HorizontalPodAutoscaler") == len(SERVICES)
    assert kinds.count("KafkaTopic") == 2 * len(EVENT_TOPICS)
