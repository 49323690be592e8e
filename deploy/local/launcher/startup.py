"""How each server is started: one-time preparation and its command line."""

from __future__ import annotations

import base64
import secrets
import shutil
import string
from pathlib import Path

from deploy.local.launcher import kafka_users
from deploy.local.launcher.artifacts import run_build_step
from deploy.local.launcher.layout import KAFKA_SOURCES, Layout
from deploy.local.launcher.report import say
from deploy.local.launcher.servers import ferretdb_data_dir, ferretdb_sqlite_url, kafka_marker, mongod_dbpath
from deploy.local.launcher.settings import LOOPBACK, Settings

LOG4J_CONFIG = KAFKA_SOURCES / "log4j2.properties"


def render_server_properties(settings: Settings, layout: Layout) -> Path:
    """Fill the shipped template; regenerated on every start, so port changes take effect."""
    template = string.Template((KAFKA_SOURCES / "server.properties.template").read_text(encoding="utf-8"))
    rendered = template.substitute(
        kafka_port=settings.kafka_port,
        controller_port=settings.controller_port,
        partitions=settings.partitions,
        log_dirs=layout.data / "kafka",
        admin_user=kafka_users.ADMIN,
        admin_password=kafka_users.password_of(kafka_users.ADMIN),
    )
    target = layout.run / "server.properties"
    target.write_text(rendered, encoding="utf-8")
    return target


def new_cluster_id() -> str:
    """Like Kafka's Uuid.randomUuid: 22 base64url chars, never a leading '-' (looks like a flag)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def kafka_jvm_options(layout: Layout, heap: str) -> list[str]:
    """A fixed heap (default 1g; a full test run creates thousands of partitions) keeps the broker modest."""
    return [
        f"-Xmx{heap}",
        f"-Xms{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent",
        f"-XX:ErrorFile={layout.logs}/kafka-hs_err_%p.log",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        f"-Dkafka.logs.dir={layout.logs}",
    ]


SCRAM_MARKER = ".carepath-scram-users"
"""Written after a format that created the SASL users; storage without it predates them."""


def format_kafka_storage(java: str, libs: Path, properties: Path, layout: Layout) -> None:
    """KRaft needs its log directory formatted with a cluster id once, before the first start.

    The format also creates the SASL/SCRAM users (kafka_users.py). Storage formatted by an
    older launcher, without them, holds only development data: it is formatted afresh.
    """
    storage = layout.data / "kafka"
    if (storage / "meta.properties").exists():
        if (storage / SCRAM_MARKER).exists():
            return
        say(
            f"the Kafka storage in {storage} has no SASL users (an older launcher made it): formatting afresh"
        )
        shutil.rmtree(storage)
    cluster_id = new_cluster_id()
    say(f"formatting Kafka storage in {layout.data / 'kafka'} (cluster id {cluster_id})")
    run_build_step(
        "formatting the Kafka storage",
        [
            java,
            "-Xmx256m",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp",
            f"{libs}/*",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(properties),
            *kafka_users.scram_arguments(),
        ],
        cwd=layout.run,
    )
    (storage / SCRAM_MARKER).write_text(
        "SCRAM-SHA-512 users: " + " ".join(kafka_users.USERS) + "\n", encoding="utf-8"
    )


def kafka_command(settings: Settings, layout: Layout, java: str, libs: Path) -> list[str]:
    """Render the config and format storage first: both must be in place before the JVM starts."""
    properties = render_server_properties(settings, layout)
    format_kafka_storage(java, libs, properties, layout)
    return [
        java,
        *kafka_jvm_options(layout, settings.heap),
        kafka_marker(layout),
        "-cp",
        f"{libs}/*",
        "kafka.Kafka",
        str(properties),
    ]


def mongod_command(settings: Settings, layout: Layout, mongod: str) -> list[str]:
    """Standalone mongod with a small WiredTiger cache, so it stays modest next to the tests."""
    dbpath = mongod_dbpath(layout)
    dbpath.mkdir(parents=True, exist_ok=True)
    return [
        mongod,
        "--dbpath",
        str(dbpath),
        "--port",
        str(settings.mongo_port),
        "--bind_ip",
        LOOPBACK,
        "--nounixsocket",
        "--wiredTigerCacheSizeGB",
        "0.25",
    ]


def ferretdb_command(settings: Settings, layout: Layout, binary: Path) -> list[str]:
    """FerretDB logs every connection at INFO, so run it at WARN; its startup line still shows."""
    ferretdb_data_dir(layout).mkdir(parents=True, exist_ok=True)
    return [
        str(binary),
        "-listen-addr",
        f"{LOOPBACK}:{settings.mongo_port}",
        "-sqlite-url",
        ferretdb_sqlite_url(layout),
        "-log-level",
        "warn",
    ]
