"""The Kafka broker's jars, resolved once from Maven Central into the cache."""

from __future__ import annotations

import shutil
import time
from xml.etree import ElementTree

from deploy.local.launcher.artifacts import CachedArtifact, run_build_step, sources_digest
from deploy.local.launcher.errors import LauncherError
from deploy.local.launcher.layout import KAFKA_SOURCES, Layout
from deploy.local.launcher.report import say

POM = KAFKA_SOURCES / "pom.xml"
POM_NAMESPACE = "{http://maven.apache.org/POM/4.0.0}"


def kafka_version() -> str:
    """The pom is the single source of truth for the Kafka version."""
    pom = ElementTree.parse(POM)  # noqa: S314 - the repository's own pom.xml
    version = pom.find(f"{POM_NAMESPACE}properties/{POM_NAMESPACE}kafka.version")
    if version is None or not version.text:
        raise LauncherError(f"no <kafka.version> property in {POM}")
    return version.text.strip()


def kafka_libs(layout: Layout) -> CachedArtifact:
    """Keyed by Kafka version, invalidated when the pom changes."""
    home = layout.cache / "kafka" / kafka_version()
    return CachedArtifact(home / "libs", home / ".complete", sources_digest(POM))


def fetch_kafka_libs(mvn: str, libs: CachedArtifact) -> None:
    """Copy the broker's runtime jars out of Maven into the cache; a partial copy never looks cached."""
    staging = libs.path.with_name(libs.path.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(libs.path, ignore_errors=True)
    say(f"resolving Kafka {kafka_version()} jars from Maven Central (first time only)...")
    started = time.monotonic()
    run_build_step(
        "resolving the Kafka jars with Maven",
        [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={staging}"],
        cwd=KAFKA_SOURCES,
    )
    staging.rename(libs.path)
    libs.mark_fresh()
    say(f"Kafka jars cached in {libs.path} ({time.monotonic() - started:.0f} s)")
