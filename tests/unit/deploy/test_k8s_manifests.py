"""The Kubernetes manifests under deploy/k8s, checked as data (PyYAML).

When `kubectl` is on the PATH, every kustomization is also built with its embedded
kustomize, which proves the overlays resolve the way an operator's `kubectl apply -k`
will; no cluster is needed.

The autoscalers are checked against the code: each service's ScaledObject has one Kafka
trigger per consumer group its `app.py` subscribes (built here with a recording
`subscribe`). Kafka access is checked against `shared/messaging/acls.py`: every listener
authenticates, and each service's KafkaUser has exactly the ACLs the topic registry gives it;
its pods and its KEDA triggers log in as that user. The alert rules and the dashboard are
checked against the metrics the code registers: every series they read exists, with the
labels they group and select by.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from shared.events.registry import EVENTS, EventSpec, dead_letter_topic
from shared.http.metrics_listener import PORT_OFFSET
from shared.messaging.acls import (
    REPLAY_USER,
    Operation,
    Pattern,
    Resource,
    consumed_topics,
    principal_of,
    produced_topics,
    replay_acls,
    service_acls,
)
from shared.messaging.subscriptions import Subscription, group_for
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

REPO = Path(__file__).resolve().parents[3]
K8S = REPO / "deploy/k8s"
SERVICES = ("intake", "matching", "scheduling", "notifications")

# Every event topic (DESIGN §1 and §3), from the topic registry the services use.
EVENT_TOPICS: tuple[str, ...] = tuple(spec.topic for spec in EVENTS)
KAFKA_CLUSTER = "carepath"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def transformer_configurations() -> set[Path]:
    """Files kustomizations name under `configurations:`: kustomize settings, not resources."""
    found: set[Path] = set()
    for kustomization in K8S.rglob("kustomization.yaml"):
        for name in yaml.safe_load(kustomization.read_text()).get("configurations", []):
            found.add((kustomization.parent / name).resolve())
    return found


def manifest_paths(under: Path = K8S) -> list[Path]:
    skipped = transformer_configurations()
    return [path for path in sorted(under.rglob("*.yaml")) if path.resolve() not in skipped]


def all_documents() -> list[dict[str, Any]]:
    return [doc for path in manifest_paths() for doc in documents(path)]


def of_kind(kind: str, under: Path = K8S) -> list[dict[str, Any]]:
    found = []
    for path in manifest_paths(under):
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
        if "patch" not in entry:
            continue  # a patch kept in its own file (scaledobject.yaml)
        patch = yaml.safe_load(entry["patch"])
        if not isinstance(patch, dict):
            continue  # a JSON patch (a list of operations), e.g. adding a Secret to envFrom
        for container in patch["spec"]["template"]["spec"]["containers"]:
            for env in container.get("env", []):
                if env["name"] == "MONGODB_URI":
                    return str(env["valueFrom"]["secretKeyRef"]["name"])
    raise AssertionError("overlay does not set MONGODB_URI")


# ------------------------------------------------------------------------ all files


def test_every_yaml_file_parses_and_each_document_names_its_kind() -> None:
    paths = manifest_paths()
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


def test_services_bootstrap_from_the_strimzi_clusters_tls_listener_with_a_scram_login() -> None:
    settings = base_settings()
    assert settings["KAFKA_BOOTSTRAP_SERVERS"] == f"{KAFKA_CLUSTER}-kafka-bootstrap:9093"
    (listener,) = one("Kafka", K8S / "kafka")["spec"]["kafka"]["listeners"]
    assert settings["KAFKA_BOOTSTRAP_SERVERS"].endswith(f":{listener['port']}")
    # What production mode requires (shared/security/production.py), and what the listener speaks.
    assert settings["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert settings["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert listener["authentication"]["type"] == "scram-sha-512"
    # No login in the shared ConfigMap: each overlay brings its own.
    assert not {"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"} & set(settings)


# ------------------------------------------------------------------------ Kafka access

CLUSTER_CA_SECRET = f"{KAFKA_CLUSTER}-cluster-ca-cert"  # Strimzi's, public certificate only


def kafka_login_secret(service: str) -> str:
    return f"carepath-kafka-{service}"


def base_settings() -> dict[str, str]:
    """The shared ConfigMap's literals, as variables."""
    kustomization = yaml.safe_load((K8S / "services/base/kustomization.yaml").read_text())
    literals = kustomization["configMapGenerator"][0]["literals"]
    return dict(literal.split("=", 1) for literal in literals)


def kafka_users() -> dict[str, dict[str, Any]]:
    users = of_kind("KafkaUser", K8S / "kafka")
    names = [user["metadata"]["name"] for user in users]
    assert len(names) == len(set(names))
    return {user["metadata"]["name"]: user for user in users}


AclEntry = tuple[str, str, str, str]  # resource type, name, patternType, operation


def acl_entries_of(user: dict[str, Any]) -> list[AclEntry]:
    """A KafkaUser's ACLs, one entry per operation (as Kafka stores them)."""
    entries = []
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        for operation in acl["operations"]:
            entries.append((resource["type"], resource["name"], resource["patternType"], operation))
    return entries


def expected_acl_entries(service: str) -> set[AclEntry]:
    return {
        (rule.resource.value, rule.name, rule.pattern.value, operation.value)
        for rule in service_acls(service)
        for operation in rule.operations
    }


def test_no_kafka_listener_accepts_a_client_without_authentication_or_tls() -> None:
    listeners = one("Kafka", K8S / "kafka")["spec"]["kafka"]["listeners"]
    assert listeners
    for listener in listeners:
        assert listener.get("authentication", {}).get("type") == "scram-sha-512", listener["name"]
        assert listener["tls"] is True, listener["name"]  # SCRAM hides the password, not the events
    assert 9092 not in {listener["port"] for listener in listeners}  # the old plain listener


def test_kafka_authorizes_every_request_by_acl_with_no_super_users_of_our_own() -> None:
    kafka = one("Kafka", K8S / "kafka")
    authorization = kafka["spec"]["kafka"]["authorization"]
    assert authorization["type"] == "simple"  # StandardAuthorizer in KRaft
    assert not authorization.get("superUsers")  # Strimzi's own operators only, added by Strimzi
    assert "allow.everyone.if.no.acl.found" not in kafka["spec"]["kafka"]["config"]
    assert kafka["spec"]["entityOperator"]["userOperator"] is not None  # turns KafkaUsers into users


def test_kafka_users_are_exactly_the_services_and_the_dead_letter_replay_in_the_cluster() -> None:
    users = kafka_users()
    assert set(users) == {*SERVICES, REPLAY_USER}
    for user in users.values():
        assert user["apiVersion"] == "kafka.strimzi.io/v1"
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == KAFKA_CLUSTER


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_logs_in_to_kafka_as_itself_with_a_password_from_its_own_secret(service: str) -> None:
    user = kafka_users()[service]
    # Strimzi's SCRAM principal is User:<KafkaUser name>, the one acls.py grants to.
    assert f"User:{user['metadata']['name']}" == principal_of(service)
    authentication = user["spec"]["authentication"]
    assert authentication["type"] == "scram-sha-512"
    assert authentication["password"]["valueFrom"]["secretKeyRef"] == {
        "name": kafka_login_secret(service),
        "key": "KAFKA_SASL_PASSWORD",  # the variable the pods read from the same Secret
    }


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_kafka_user_has_exactly_the_acls_the_topic_registry_gives_it(service: str) -> None:
    user = kafka_users()[service]
    assert user["spec"]["authorization"]["type"] == "simple"
    entries = acl_entries_of(user)
    assert len(entries) == len(set(entries))  # none twice
    assert set(entries) == expected_acl_entries(service)
    for acl in user["spec"]["authorization"]["acls"]:
        assert acl.get("type", "allow") == "allow" and acl.get("host", "*") == "*"


def test_the_acl_comparison_sees_a_service_write_what_it_does_not_produce() -> None:
    forged = copy.deepcopy(kafka_users()["intake"])
    forged["spec"]["authorization"]["acls"].append(
        {
            "resource": {"type": "topic", "name": "session-booked", "patternType": "literal"},
            "operations": ["Write"],
        }
    )
    extra = set(acl_entries_of(forged)) - expected_acl_entries("intake")
    assert extra == {("topic", "session-booked", "literal", "Write")}


def test_the_readme_table_of_kafka_access_is_the_topic_registrys() -> None:
    section = (K8S / "README.md").read_text().split("## Kafka access", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in SERVICES:
            rows[cells[0]] = [set(re.findall(r"`([^`]+)`", cell)) for cell in cells[1:]]
    assert set(rows) == set(SERVICES)
    for service, (writes, reads, groups) in rows.items():
        granted_groups = {rule.name for rule in service_acls(service) if rule.resource is Resource.group}
        assert writes == set(produced_topics(service)), service
        assert reads == set(consumed_topics(service)), service
        assert groups == granted_groups, service


def overlay_env_from_secrets(service: str) -> list[dict[str, Any]]:
    """The `secretRef`s the overlay's JSON patches append to the container's envFrom."""
    overlay = yaml.safe_load((K8S / f"services/{service}/kustomization.yaml").read_text())
    refs = []
    for entry in overlay["patches"]:
        operations = yaml.safe_load(entry["patch"]) if "patch" in entry else None
        if not isinstance(operations, list):
            continue  # a strategic-merge patch, or one in its own file
        refs += [
            operation["value"]["secretRef"]
            for operation in operations
            if operation["op"] == "add" and operation["path"].endswith("/envFrom/-")
        ]
    return refs


@pytest.mark.parametrize("service", SERVICES)
def test_each_overlay_gives_its_pods_their_own_kafka_login_and_no_other(service: str) -> None:
    logins = [ref for ref in overlay_env_from_secrets(service) if ref["name"].startswith("carepath-kafka-")]
    # Required: without it a pod would start without a login (and production mode refuse it).
    assert logins == [{"name": kafka_login_secret(service)}]


def test_pods_trust_the_strimzi_cluster_ca_for_the_brokers_certificates() -> None:
    ca_file = Path(base_settings()["KAFKA_SSL_CAFILE"])
    pod = one("Deployment", K8S / "services/base")["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    (mount,) = [m for m in base_container()["volumeMounts"] if m["mountPath"] == str(ca_file.parent)]
    assert mount["readOnly"] is True
    secret = volumes[mount["name"]]["secret"]
    assert secret["secretName"] == CLUSTER_CA_SECRET
    assert {"key": "ca.crt", "path": ca_file.name} in secret["items"]


def trigger_authentication(service: str) -> dict[str, Any]:
    return one("TriggerAuthentication", K8S / f"services/{service}")


@pytest.mark.parametrize("service", SERVICES)
def test_every_keda_kafka_trigger_logs_in_as_its_service_over_tls(service: str) -> None:
    authentication = trigger_authentication(service)
    assert authentication["apiVersion"] == "keda.sh/v1alpha1"
    refs = {ref["parameter"]: (ref["name"], ref["key"]) for ref in authentication["spec"]["secretTargetRef"]}
    assert refs == {
        "username": (kafka_login_secret(service), "KAFKA_SASL_USERNAME"),
        "password": (kafka_login_secret(service), "KAFKA_SASL_PASSWORD"),
        "ca": (CLUSTER_CA_SECRET, "ca.crt"),
    }
    triggers = kafka_triggers(one("ScaledObject", K8S / f"services/{service}"))
    assert triggers
    for trigger in triggers:
        assert trigger["metadata"]["sasl"] == "scram_sha512"
        assert trigger["metadata"]["tls"] == "enable"
        assert trigger["authenticationRef"]["name"] == authentication["metadata"]["name"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_kafka_user_may_read_what_its_keda_triggers_measure(service: str) -> None:
    """KEDA reads a group's committed offsets and its topic's end offsets as the service."""
    rules = service_acls(service)
    for trigger in kafka_triggers(one("ScaledObject", K8S / f"services/{service}")):
        topic, group = trigger["metadata"]["topic"], trigger["metadata"]["consumerGroup"]
        assert any(
            rule.resource is Resource.topic
            and rule.pattern is Pattern.literal
            and rule.name == topic
            and Operation.describe in rule.operations
            for rule in rules
        ), topic
        assert any(
            rule.resource is Resource.group
            and rule.pattern is Pattern.prefix
            and group.startswith(rule.name)
            and Operation.read in rule.operations  # Read on a group implies Describe
            for rule in rules
        ), group


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
    assert {"name": "http", "containerPort": 8000} in container["ports"]


def test_pods_expose_metrics_on_the_port_a_service_serves_them_by_default_not_the_api_port() -> None:
    container = base_container()
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    default = ServiceSettings.model_fields["http_port"].default + PORT_OFFSET
    assert ports == {"http": 8000, "metrics": default}
    annotations = one("Deployment", K8S / "services/base")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(default)
    service = one("Service", K8S / "services/base")
    assert {"name": "metrics", "port": default, "targetPort": "metrics"} in service["spec"]["ports"]


def test_base_deployment_drains_on_sigterm_as_a_non_root_pod() -> None:
    deployment = one("Deployment", K8S / "services/base")
    pod = deployment["spec"]["template"]
    assert pod["spec"]["terminationGracePeriodSeconds"] == 45
    assert "replicas" not in deployment["spec"]  # KEDA's autoscaler owns the count
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


@cache
def consumed(service: str) -> tuple[EventSpec, ...]:
    """The events `services/<service>/app.py` subscribes to, in its order, read from the code."""
    recorded: list[EventSpec] = []

    def recording(_runtime: ServiceRuntime, *subscriptions: Subscription) -> None:
        recorded.extend(subscription.spec for subscription in subscriptions)

    patch = pytest.MonkeyPatch()
    patch.setattr(ServiceRuntime, "subscribe", recording)
    try:
        importlib.import_module(f"services.{service}.app").build_app()
    finally:
        patch.undo()
    return tuple(recorded)


def kafka_triggers(scaled_object: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in scaled_object["spec"]["triggers"] if t["type"] == "kafka"]


def test_no_horizontal_pod_autoscaler_is_left_beside_keda() -> None:
    assert of_kind("HorizontalPodAutoscaler") == []  # KEDA makes its own; two would fight


def test_scaled_object_targets_the_deployment_and_stays_within_the_partitions() -> None:
    scaled = one("ScaledObject", K8S / "services/base")
    deployment = one("Deployment", K8S / "services/base")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    partitions = min(topic["spec"]["partitions"] for topic in of_kind("KafkaTopic"))
    assert 2 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"] <= partitions
    scale_down = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
    assert scale_down["stabilizationWindowSeconds"] >= 300  # no rebalance storms


def bootstrap_servers() -> str:
    kustomization = yaml.safe_load((K8S / "services/base/kustomization.yaml").read_text())
    literals = kustomization["configMapGenerator"][0]["literals"]
    return str(next(v.split("=", 1)[1] for v in literals if v.startswith("KAFKA_BOOTSTRAP_SERVERS=")))


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_scales_on_the_lag_of_every_consumer_group_it_joins_and_on_cpu(service: str) -> None:
    triggers = one("ScaledObject", K8S / f"services/{service}")["spec"]["triggers"]
    kafka = [t for t in triggers if t["type"] == "kafka"]
    specs = consumed(service)
    assert specs, f"{service} consumes nothing?"
    expected = {group_for(f"carepath-{service}", spec): spec.topic for spec in specs}
    assert {t["metadata"]["consumerGroup"]: t["metadata"]["topic"] for t in kafka} == expected
    assert len(kafka) == len(expected)  # one trigger per group, none twice
    for trigger in kafka:
        metadata = trigger["metadata"]
        assert metadata["bootstrapServers"] == bootstrap_servers()
        assert int(metadata["lagThreshold"]) > 0
        assert metadata["offsetResetPolicy"] == "earliest"  # where the subscriptions start
        assert metadata["allowIdleConsumers"] == "false"  # never more replicas than partitions
    (cpu,) = [t for t in triggers if t["type"] == "cpu"]
    assert cpu["metricType"] == "Utilization" and 0 < int(cpu["metadata"]["value"]) <= 100
    assert len(triggers) == len(kafka) + 1


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
    assert overlay["resources"] == ["../base", "triggerauthentication.yaml"]
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
    for kind in ("Deployment", "Service", "ScaledObject", "TriggerAuthentication", "PodDisruptionBudget"):
        assert resources[kind]["metadata"]["name"] == name, kind
    assert "HorizontalPodAutoscaler" not in resources
    scaled = resources["ScaledObject"]["spec"]
    assert scaled["scaleTargetRef"]["name"] == name
    assert len(kafka_triggers(resources["ScaledObject"])) == len(consumed(service))
    assert scaled["maxReplicaCount"] <= 6 and "advanced" in scaled  # the base's policy kept
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
    # Its own Kafka login, the CA it trusts, and KEDA logging in as the same user.
    secrets = [source["secretRef"]["name"] for source in container["envFrom"] if "secretRef" in source]
    assert [s for s in secrets if s.startswith("carepath-kafka-")] == [kafka_login_secret(service)]
    assert config_map["data"]["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert {"ca.crt"} == {
        item["key"]
        for volume in pod["spec"]["volumes"]
        if volume.get("secret", {}).get("secretName") == CLUSTER_CA_SECRET
        for item in volume["secret"]["items"]
    }
    refs = {trigger["authenticationRef"]["name"] for trigger in kafka_triggers(resources["ScaledObject"])}
    assert refs == {resources["TriggerAuthentication"]["metadata"]["name"]}


def test_everything_builds_into_the_carepath_namespace() -> None:
    built = kustomize(K8S)
    namespaced = [doc for doc in built if doc["kind"] != "Namespace"]
    assert {doc["metadata"].get("namespace") for doc in namespaced} == {"carepath"}
    kinds = [doc["kind"] for doc in built]
    assert kinds.count("Deployment") == kinds.count("ScaledObject") == len(SERVICES)
    assert kinds.count("HorizontalPodAutoscaler") == 0
    assert kinds.count("KafkaTopic") == 2 * len(EVENT_TOPICS)
    assert kinds.count("TriggerAuthentication") == len(SERVICES)
    assert kinds.count("KafkaUser") == len(SERVICES) + 1  # and the dead-letter replay
    assert kinds.count("ServiceMonitor") == kinds.count("PrometheusRule") == 1
    (dashboard_map,) = [
        doc
        for doc in built
        if doc["kind"] == "ConfigMap" and doc["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    assert dashboard_map["metadata"]["name"] == "carepath-grafana-dashboard"  # stable: no hash
    assert json.loads(dashboard_map["data"]["carepath.json"])["uid"] == "carepath-overview"


# ------------------------------------------------------------------------ monitoring

MONITORING = K8S / "monitoring"
# Labels Prometheus adds to every series it scrapes through the ServiceMonitor.
TARGET_LABELS = {"namespace", "job", "pod", "instance", "service", "container", "endpoint"}
ALERTS = {
    "CarepathDeadLettersRising": "carepath_dead_letters_total",
    "CarepathOutboxStuck": "carepath_outbox_oldest_pending_seconds",
    "CarepathConsumerLagGrowing": "carepath_consumer_lag",
    "CarepathReadinessFailing": "carepath_http_requests_total",
    "CarepathRiskAlertUndelivered": "carepath_risk_alert_oldest_undelivered_seconds",
}


@cache
def registered_series() -> dict[str, frozenset[str]]:
    """Every series name the services expose (a counter's `_total`, a histogram's `_bucket`,
    ...) with its label names: what rules and panels may read."""
    for service in SERVICES:
        importlib.import_module(f"services.{service}.app")  # registers each service's own metrics
    series: dict[str, frozenset[str]] = {}
    for family in REGISTRY.collect():
        if family.name.startswith("carepath_"):
            labels = frozenset(_label_names(family.name))
            for suffix in ("", "_total", "_count", "_sum", "_created"):
                series[family.name + suffix] = labels
            series[f"{family.name}_bucket"] = labels | {"le"}
    return series


def _label_names(family: str) -> tuple[str, ...]:
    """A metric's declared label names (a labelled metric has no sample until first used)."""
    for collector in set(REGISTRY._names_to_collectors.values()):
        if getattr(collector, "_name", None) == family:
            return tuple(getattr(collector, "_labelnames", ()))
    return ()


def promql_problems(expr: str) -> list[str]:
    """What is wrong with an expression, as far as a check without Prometheus can tell:
    unbalanced brackets, series the code does not expose, grouping or selecting on a label
    those series lack."""
    problems = [
        f"unbalanced {pair}" for pair in ("()", "{}", "[]") if expr.count(pair[0]) != expr.count(pair[1])
    ]
    series = registered_series()
    used = set(re.findall(r"\b(carepath_[a-z_]+)\b", expr))
    problems += [f"unknown series {name}" for name in sorted(used - set(series))]
    labels = set().union(*(series.get(name, frozenset()) for name in used)) | TARGET_LABELS
    for clause in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        for label in filter(None, (part.strip() for part in clause.split(","))):
            if label not in labels:
                problems.append(f"groups by {label}, which {sorted(used)} lack")
    for label in re.findall(r"[{,]\s*([a-z_]+)\s*(?:=~|!~|!=|=)", expr):
        if label not in labels:
            problems.append(f"selects on {label}, which {sorted(used)} lack")
    return problems


def alert_rules() -> dict[str, dict[str, Any]]:
    rule = one("PrometheusRule", MONITORING)
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    return {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r}


def test_every_alert_the_issue_names_exists_and_reads_its_metric() -> None:
    rules = alert_rules()
    assert set(ALERTS) <= set(rules)
    for name, metric in ALERTS.items():
        assert metric in rules[name]["expr"], name


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_each_alert_reads_exposed_series_and_says_what_to_do(name: str) -> None:
    rule = alert_rules()[name]
    assert promql_problems(rule["expr"]) == [], rule["expr"]
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert {"summary", "description", "runbook"} <= set(rule["annotations"])


def test_the_check_of_expressions_catches_what_prometheus_would_refuse_or_find_empty() -> None:
    assert promql_problems("max by (group) (carepath_consumer_lag)") == []
    assert promql_problems("max by (group) (carepath_consumer_lag") == ["unbalanced ()"]
    assert promql_problems("carepath_consumer_lagg > 0") == ["unknown series carepath_consumer_lagg"]
    assert promql_problems("sum by (client_id) (carepath_consumer_lag)") != []
    assert promql_problems('carepath_timer_lag_seconds{kind="x"}') != []


@pytest.mark.parametrize(
    ("name", "threshold"),
    [
        ("CarepathOutboxStuck", "> 60"),  # an outbox entry older than a minute
        ("CarepathRiskAlertUndelivered", "> 300"),  # undelivered after five minutes
        ("CarepathDeadLettersRising", "> 0"),  # any dead letter in the window
    ],
)
def test_alert_thresholds_are_the_ones_operators_were_promised(name: str, threshold: str) -> None:
    assert threshold in alert_rules()[name]["expr"]


def test_lag_alert_needs_growth_and_a_backlog_and_readiness_reads_the_probe() -> None:
    rules = alert_rules()
    lag = rules["CarepathConsumerLagGrowing"]["expr"]
    assert "deriv(carepath_consumer_lag[" in lag and "\nand\n" in lag
    assert rules["CarepathRiskAlertUndelivered"]["labels"]["severity"] == "critical"
    readiness = rules["CarepathReadinessFailing"]["expr"]
    assert 'route="/readyz"' in readiness and "up{" in readiness


def test_service_monitor_scrapes_each_service_metrics_port() -> None:
    monitor = one("ServiceMonitor", MONITORING)
    service = one("Service", K8S / "services/base")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] == "metrics"  # the API port serves none
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    selector = monitor["spec"]["selector"]
    assert selector["matchLabels"] == {"app.kubernetes.io/part-of": "carepath"}  # the base's label
    (names,) = selector["matchExpressions"]
    assert (names["key"], sorted(names["values"])) == ("app.kubernetes.io/name", sorted(SERVICES))
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"  # `job` is the service


def dashboard() -> dict[str, Any]:
    return dict(json.loads((MONITORING / "dashboards/carepath.json").read_text()))


def test_dashboard_has_a_panel_for_each_metric_the_issue_names() -> None:
    expressions = " ".join(t["expr"] for panel in dashboard()["panels"] for t in panel.get("targets", []))
    for metric in (
        "carepath_http_requests_total",
        "carepath_http_request_duration_seconds_bucket",
        "carepath_consumer_lag",
        "carepath_outbox_oldest_pending_seconds",
        "carepath_timer_lag_seconds",
        "carepath_risk_alerts_undelivered",
        "carepath_risk_alert_oldest_undelivered_seconds",
        "carepath_dead_letters_total",
    ):
        assert metric in expressions, metric


def test_every_dashboard_query_reads_exposed_series() -> None:
    panels = [panel for panel in dashboard()["panels"] if panel["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert promql_problems(target["expr"]) == [], (panel["title"], target["expr"])
    ids = [panel["id"] for panel in dashboard()["panels"]]
    assert len(ids) == len(set(ids))


def test_the_dead_letter_replay_user_reads_dead_letters_and_writes_back_only_what_it_replays() -> None:
    user = kafka_users()[REPLAY_USER]
    assert user["spec"]["authentication"]["password"]["valueFrom"]["secretKeyRef"] == {
        "name": kafka_login_secret(REPLAY_USER),
        "key": "KAFKA_SASL_PASSWORD",
    }
    expected = {
        (rule.resource.value, rule.name, rule.pattern.value, operation.value)
        for rule in replay_acls()
        for operation in rule.operations
    }
    entries = acl_entries_of(user)
    assert len(entries) == len(set(entries))
    assert set(entries) == expected
    assert not any(op in ("Create", "Delete", "Alter") for *_, op in entries)
