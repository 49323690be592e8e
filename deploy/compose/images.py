"""The images the stack runs: the official ones where they can be pulled, local ones where not.

Local ones are built on a Debian base made here with debootstrap (deploy/docker/local-images):
Docker Hub may be out of reach while Debian's archive, PyPI, Maven Central and the Go module
proxy are not. Each local image carries a digest of its inputs as a label, so a second run
reuses it and a changed recipe rebuilds it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from deploy.compose.engine import Engine, install_packages
from deploy.compose.report import ComposeError, say, step
from deploy.local.launcher.layout import KAFKA_SOURCES, REPO_ROOT

LOCAL_IMAGES = REPO_ROOT / "deploy" / "docker" / "local-images"
# The official images docker-compose.yml and the Dockerfile name (tests/unit/deploy check they agree).
OFFICIAL = {
    "kafka": "apache/kafka:4.1.2",
    "mongodb": "mongo:8",
    "gateway": "caddy:2.10-alpine",
    "python": "python:3.11-slim-bookworm",
}
BASE = "carepath-local/debian:bookworm"
LOCAL = {
    "python": "carepath-local/python:3.11-bookworm",
    "kafka": "carepath-local/kafka:4.1.2",
    "mongodb": "carepath-local/ferretdb:1.24.2",
    "gateway": "carepath-local/caddy:2.6",
}
SERVICES = ("intake", "matching", "scheduling", "notifications")
TAG = "dev"
INPUTS_LABEL = "org.carepath.inputs"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
IMAGE_CA_BUNDLE = "/usr/local/share/carepath/ca-certificates.crt"
DEBIAN_MIRROR = os.environ.get("CAREPATH_DEBIAN_MIRROR", "http://deb.debian.org/debian")


@dataclass(frozen=True)
class Images:
    """Which set the stack runs on, and the compose files that say so."""

    local: bool

    @property
    def python(self) -> str:
        return LOCAL["python"] if self.local else OFFICIAL["python"]

    def compose_files(self) -> list[Path]:
        files = [REPO_ROOT / "docker-compose.yml"]
        if self.local:
            files.append(REPO_ROOT / "deploy" / "docker" / "compose.local-images.yml")
        return files


def choose_images(engine: Engine) -> Images:
    """Official images when every one is present or can be pulled; otherwise the local set."""
    for image in OFFICIAL.values():
        if present(engine, image):
            continue
        pulled = engine.run("pull", "--quiet", image, check=False, quiet=True)
        if pulled.returncode != 0:
            reason = (pulled.stderr or "").strip().splitlines()[-1:] or ["no reason given"]
            say(f"{image} cannot be pulled ({reason[0]}): using local images instead")
            return Images(local=True)
    return Images(local=False)


def present(engine: Engine, image: str) -> bool:
    return engine.run("image", "inspect", image, check=False, quiet=True).returncode == 0


def label_of(engine: Engine, image: str) -> str:
    found = engine.run(
        "image",
        "inspect",
        "--format",
        f'{{{{index .Config.Labels "{INPUTS_LABEL}"}}}}',
        image,
        check=False,
        quiet=True,
    )
    return found.stdout.strip() if found.returncode == 0 else ""


def digest_of(*paths: Path) -> str:
    """Of every file under the paths (names and contents), in a stable order."""
    digest = hashlib.sha256()
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            digest.update(path.name.encode() + b"\0")
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()[:16]


def build(
    engine: Engine,
    tag: str,
    context: Path,
    *,
    inputs: str,
    args: dict[str, str] | None = None,
    target: str | None = None,
    dockerfile: Path | None = None,
) -> None:
    """`docker build`, skipped when the image was built from these very inputs."""
    if inputs and label_of(engine, tag) == inputs:
        say(f"{tag}: up to date")
        return
    command = ["build", "--quiet", "--tag", tag]
    if inputs:
        command += ["--label", f"{INPUTS_LABEL}={inputs}"]
    for name, value in (args or {}).items():
        command += ["--build-arg", f"{name}={value}"]
    if target:
        command += ["--target", target]
    if dockerfile:
        command += ["--file", str(dockerfile)]
    with step(f"building {tag}"):
        engine.run(*command, str(context), quiet=True)


def build_local_images(engine: Engine, cache: Path, launcher_artifacts: dict[str, Path]) -> None:
    """The Debian base, then Python, Kafka, FerretDB and Caddy on it."""
    ca = HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None
    base_inputs = hashlib.sha256(((digest_of(ca) if ca else "") + DEBIAN_MIRROR).encode()).hexdigest()[:16]
    if label_of(engine, BASE) != base_inputs:
        with step(f"making {BASE} with debootstrap"):
            make_base_image(engine, cache, ca, base_inputs)
    base = {"BASE_IMAGE": BASE}
    for name in ("python", "gateway"):  # recipes with no inputs but their own folder
        recipe = LOCAL_IMAGES / name
        build(engine, LOCAL[name], recipe, inputs=base_inputs + digest_of(recipe), args=base)
    with tempfile.TemporaryDirectory(prefix="carepath-kafka-", dir=cache) as folder:
        context = Path(folder)
        libs = launcher_artifacts["kafka_libs"]
        inputs = base_inputs + digest_of(
            LOCAL_IMAGES / "kafka", KAFKA_SOURCES / "pom.xml", KAFKA_SOURCES / "log4j2.properties"
        )
        if label_of(engine, LOCAL["kafka"]) != inputs:
            shutil.copytree(LOCAL_IMAGES / "kafka", context, dirs_exist_ok=True)
            shutil.copytree(libs, context / "libs")
            shutil.copyfile(KAFKA_SOURCES / "log4j2.properties", context / "log4j2.properties")
        build(engine, LOCAL["kafka"], context, inputs=inputs, args=base)
    with tempfile.TemporaryDirectory(prefix="carepath-ferretdb-", dir=cache) as folder:
        context = Path(folder)
        binary = launcher_artifacts["ferretdb"]
        inputs = base_inputs + digest_of(LOCAL_IMAGES / "ferretdb", binary)
        if label_of(engine, LOCAL["mongodb"]) != inputs:
            shutil.copytree(LOCAL_IMAGES / "ferretdb", context, dirs_exist_ok=True)
            shutil.copy2(binary, context / "ferretdb")
        build(engine, LOCAL["mongodb"], context, inputs=inputs, args=base)


def make_base_image(engine: Engine, cache: Path, ca: Path | None, inputs: str) -> None:
    """debootstrap (minbase) into a scratch folder, trust the host's CA bundle, `docker import`."""
    if shutil.which("debootstrap") is None:
        install_packages(["debootstrap"], why="the local base image needs debootstrap")
    with tempfile.TemporaryDirectory(prefix="carepath-rootfs-", dir=cache) as folder:
        rootfs = Path(folder) / "rootfs"
        made = subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), DEBIAN_MIRROR],
            capture_output=True,
            text=True,
            check=False,
        )
        if made.returncode != 0:
            raise ComposeError("debootstrap failed:\n" + "\n".join(made.stdout.splitlines()[-8:]))
        suites = "bookworm bookworm-updates"
        (rootfs / "etc/apt/sources.list").write_text(
            f"deb {DEBIAN_MIRROR} {suites.split()[0]} main\ndeb {DEBIAN_MIRROR} {suites.split()[1]} main\n"
            "deb http://deb.debian.org/debian-security bookworm-security main\n",
            encoding="utf-8",
        )
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
        changes = ["ENV DEBIAN_FRONTEND=noninteractive", "ENV LANG=C.UTF-8", 'CMD ["bash"]']
        if ca is not None:
            target = rootfs / IMAGE_CA_BUNDLE.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ca, target)
            changes += [
                f"ENV SSL_CERT_FILE={IMAGE_CA_BUNDLE}",
                f"ENV PIP_CERT={IMAGE_CA_BUNDLE}",
                f"ENV REQUESTS_CA_BUNDLE={IMAGE_CA_BUNDLE}",
            ]
        changes.append(f"LABEL {INPUTS_LABEL}={inputs}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        command = [engine.docker, "import"]
        for change in changes:
            command += ["--change", change]
        imported = subprocess.run(
            [*command, "-", BASE], stdin=tar.stdout, capture_output=True, text=True, check=False
        )
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise ComposeError(f"docker import of the base image failed: {imported.stderr.strip()}")


def build_project_images(engine: Engine, images: Images) -> None:
    """The four services, the sinks and the tests image, from the repository's recipes."""
    args = {"PYTHON_IMAGE": images.python}
    for service in SERVICES:
        build(
            engine,
            f"carepath/{service}:{TAG}",
            REPO_ROOT,
            inputs="",
            args=args | {"SERVICE": service},
            target="service",
        )
    build(engine, f"carepath/sinks:{TAG}", REPO_ROOT, inputs="", args=args, target="sinks")
    build(engine, f"carepath/tests:{TAG}", REPO_ROOT, inputs="", args=args, target="tests")
