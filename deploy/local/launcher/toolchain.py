"""The tools the servers need, found before anything starts so a missing one fails fast (exit 2)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from deploy.local.launcher.errors import PrerequisiteError

MIN_JAVA_MAJOR = 17
MIN_GO_VERSION = (1, 24)  # FerretDB v1.24's go.mod requires it


def find_java() -> str | None:
    """JAVA_HOME wins, as it does for Maven, so both use the same JDK."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.access(Path(java_home) / "bin" / "java", os.X_OK):
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def parse_java_major(version_output: str) -> int | None:
    """`java -version` output to a major version ('1.8.0_392' is 8, '17.0.15' is 17)."""
    found = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def parse_go_version(goversion: str) -> tuple[int, int] | None:
    """`go env GOVERSION` output to (major, minor): 'go1.26.8' is (1, 26)."""
    found = re.match(r"go(\d+)\.(\d+)", goversion.strip())
    return (int(found.group(1)), int(found.group(2))) if found else None


def require_java() -> str:
    java = find_java()
    if java is None:
        raise PrerequisiteError(
            f"Java {MIN_JAVA_MAJOR}+ is required to run Kafka (not found on PATH); "
            f"install OpenJDK {MIN_JAVA_MAJOR} or set KAFKA_BOOTSTRAP_SERVERS"
        )
    result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    major = parse_java_major(result.stderr + result.stdout)
    if major is None or major < MIN_JAVA_MAJOR:
        found = f"Java {major}" if major else "an unrecognised Java"
        raise PrerequisiteError(
            f"Java {MIN_JAVA_MAJOR}+ is required to run Kafka ({java} is {found}); "
            f"install OpenJDK {MIN_JAVA_MAJOR} or set KAFKA_BOOTSTRAP_SERVERS"
        )
    return java


def require_maven() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise PrerequisiteError(
            "Maven is required once to download the Kafka jars (mvn not found on PATH); "
            "install Maven 3 or set KAFKA_BOOTSTRAP_SERVERS"
        )
    return mvn


def require_go() -> str:
    go = shutil.which("go")
    wanted = ".".join(map(str, MIN_GO_VERSION))
    if go is None:
        raise PrerequisiteError(
            f"Go {wanted}+ is required once to build FerretDB (go not found on PATH); "
            "install Go, put mongod on the PATH, or set MONGODB_URI"
        )
    result = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False)
    version = parse_go_version(result.stdout)
    if version is None or version < MIN_GO_VERSION:
        found = ".".join(map(str, version)) if version else "unrecognised"
        raise PrerequisiteError(
            f"Go {wanted}+ is required once to build FerretDB (found {found}); "
            "install a newer Go, put mongod on the PATH, or set MONGODB_URI"
        )
    return go


def find_mongod() -> str | None:
    return shutil.which("mongod")


def require_mongod() -> str:
    mongod = find_mongod()
    if mongod is None:
        raise PrerequisiteError(
            "CAREPATH_MONGO_BACKEND=mongod but mongod is not on PATH; "
            "install MongoDB or unset CAREPATH_MONGO_BACKEND to use FerretDB"
        )
    return mongod
