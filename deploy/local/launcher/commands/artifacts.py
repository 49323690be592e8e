"""`artifacts`: the Kafka jars and the FerretDB binary, made if missing, and where they are.

The compose images built where Docker Hub cannot be reached (deploy/docker/local-images)
run the very broker jars and patched FerretDB that `up` runs; they take them from here.
"""

from __future__ import annotations

from deploy.local.launcher.errors import EXIT_OK
from deploy.local.launcher.ferretdb_build import build_ferretdb, ferretdb_binary
from deploy.local.launcher.kafka_jars import fetch_kafka_libs, kafka_libs
from deploy.local.launcher.lock import cache_lock
from deploy.local.launcher.settings import Settings
from deploy.local.launcher.toolchain import require_go, require_maven


def cmd_artifacts(settings: Settings) -> int:
    """Prints `kafka_libs=<folder>` and `ferretdb=<binary>`, one per line."""
    layout = settings.layout
    layout.create()
    libs, binary = kafka_libs(layout), ferretdb_binary(layout)
    with cache_lock(layout):
        if not libs.is_fresh():
            fetch_kafka_libs(require_maven(), libs)
        if not binary.is_fresh():
            build_ferretdb(require_go(), binary)
    print(f"kafka_libs={libs.path}")
    print(f"ferretdb={binary.path}")
    return EXIT_OK
