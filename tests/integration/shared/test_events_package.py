"""carepath-events as a platform backend gets it: the wheel alone, in a fresh virtual
environment, reads a real `session-booked` from the broker with the README's consumer.

The wheel is built from `packages/carepath-events` (the very files of `shared/events/`) and
installed with nothing else of Carepath, beside the consumer's own Kafka client. The
consumer is the README's FastStream example, verbatim; the test publishes one record it must
dead-letter (not even JSON) and then one real `session-booked`, both on its own topic prefix.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.parser import Parser
from pathlib import Path

import pytest

from shared.events import EVENTS, new_event, spec_for, to_record
from shared.events.models import SessionBooked
from shared.messaging.topics import ensure_topics
from shared.settings import KafkaSettings
from tests.support.infrastructure import REPO
from tests.support.kafka import publish_raw, read_records

UV = REPO / ".local" / "tools" / "uv" / "bin" / "uv"
PACKAGE = REPO / "packages" / "carepath-events"
KAFKA_CLIENT = "faststream[kafka]==0.7.8"
"""What the README's consumer installs beside the package (the version Carepath runs, so the
uv cache usually has it)."""
SERVICE_DISTRIBUTIONS = {"carepath", "faststream", "aiokafka", "pymongo", "fastapi", "pydantic-settings"}

CAREPATH_ENVIRONMENT = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONSTARTUP"}

DRIVER = '''
"""Run the README's consumer until it has handled one event; print what it saw."""
import asyncio
import importlib.util
import json

import carepath_events
import consumer  # the README's example, verbatim

handled = []
done = asyncio.Event()


async def record(booked, envelope):
    handled.append(
        {
            "session_id": booked.session_id,
            "client_id": booked.client_id,
            "starts_at": booked.starts_at.isoformat(),
            "event_id": envelope.id,
            "dataschema": envelope.dataschema,
            "correlation_id": envelope.correlation_id,
        }
    )
    done.set()


consumer.handle = record  # the one line a backend writes itself


async def main():
    await consumer.broker.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=45)
    finally:
        await consumer.broker.stop()
    print(
        json.dumps(
            {
                "handled": handled,
                "package": carepath_events.__file__,
                "shared_importable": importlib.util.find_spec("shared") is not None,
                "services_importable": importlib.util.find_spec("services") is not None,
            }
        )
    )


asyncio.run(main())
'''


def run(argv: Sequence[str | Path], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=clean_env(), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{' '.join(map(str, argv))}\n{done.stdout}\n{done.stderr}"
    return done


def clean_env(**extra: str) -> dict[str, str]:
    """This machine's environment (proxies, certificates) without Carepath's code or venv in it."""
    env = {name: value for name, value in os.environ.items() if name not in CAREPATH_ENVIRONMENT}
    return env | {"UV_PYTHON_DOWNLOADS": "never"} | extra


def uv_install(python: Path, *requirements: str | Path) -> None:
    """Install from the uv cache when it has everything, else from PyPI."""
    argv: list[str | Path] = [UV, "pip", "install", "--quiet", "--python", python, *requirements]
    offline = subprocess.run(
        [str(a) for a in [*argv, "--offline"]], env=clean_env(), capture_output=True, text=True, check=False
    )
    if offline.returncode != 0:
        run(argv)


def installed(python: Path) -> set[str]:
    frozen = run([UV, "pip", "freeze", "--python", python]).stdout
    return {re.split(r"[=@ ]", line, maxsplit=1)[0].lower() for line in frozen.splitlines() if line}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run([UV, "build", "--wheel", PACKAGE, "--out-dir", out])
    (built,) = out.glob("carepath_events-*.whl")
    return built


@pytest.fixture(scope="module")
def consumer_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment: the wheel, then the consumer's Kafka client."""
    venv = tmp_path_factory.mktemp("platform") / "venv"
    run([UV, "venv", "--quiet", "--python", sys.executable, venv])
    python = venv / "bin" / "python"
    uv_install(python, wheel)
    alone = installed(python)
    assert "carepath-events" in alone
    assert not alone & SERVICE_DISTRIBUTIONS, f"the package pulled in {alone & SERVICE_DISTRIBUTIONS}"
    uv_install(python, KAFKA_CLIENT)
    return python


def readme_consumer() -> str:
    """The README's FastStream consumer, exactly as a backend would copy it."""
    readme = (PACKAGE / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    (example,) = [block for block in blocks if "@broker.subscriber(" in block]
    return example


def session_booked(client_id: str) -> SessionBooked:
    starts = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    return SessionBooked(
        session_id=f"session-{uuid.uuid4().hex[:8]}",
        client_id=client_id,
        therapist_id="therapist-1",
        starts_at=starts,
        ends_at=starts + timedelta(minutes=50),
        timezone="Europe/Berlin",
        format="video",
        series_id="series-1",
        sequence=1,
        join_url="https://video.example/join/abc",
        kind="introduction",
        booked_by="client",
    )


def test_the_wheel_ships_models_helpers_and_schemas_and_depends_on_pydantic_alone(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(metadata_name).decode())

    requirements = metadata.get_all("Requires-Dist") or []
    assert {re.split(r"[<>=;! ]", r, maxsplit=1)[0] for r in requirements} == {"pydantic", "tzdata"}
    assert any(r.startswith("tzdata") and "win32" in r for r in requirements)
    modules = {"__init__", "common", "envelope", "models", "records", "registry"}
    assert {f"carepath_events/{m}.py" for m in modules} | {"carepath_events/py.typed"} <= names
    assert {f"carepath_events/schemas/{spec.schema_file}" for spec in EVENTS} <= names
    tooling = [n for n in names if re.search(r"export_|compatibility|released/", n)]
    assert tooling == [], "repository tooling and the released baseline stay out of the package"


async def test_a_fresh_environment_with_only_the_package_reads_a_real_session_booked(
    consumer_python: Path, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    group = f"platform-{uuid.uuid4().hex[:8]}"
    topic = kafka_settings.topic("session-booked")
    dead_letters = kafka_settings.topic(f"{group}.session-booked.dlq")
    await ensure_topics(kafka_settings, ["session-booked", f"{group}.session-booked.dlq"])
    data = session_booked("client-42")
    booked = new_event(data, source="scheduling", correlation_id="journey-42")
    poison = to_record(new_event(session_booked("client-42"), source="scheduling"))
    record = to_record(booked)
    # Same key, same partition: the poison comes first and must not hold up the real event.
    records = [(poison.key, b"not json", poison.headers), (record.key, record.value, record.headers)]
    await publish_raw(kafka_settings, topic, records)

    (tmp_path / "consumer.py").write_text(readme_consumer())
    (tmp_path / "driver.py").write_text(DRIVER)
    env = clean_env(
        KAFKA_BOOTSTRAP_SERVERS=kafka_settings.bootstrap_servers,
        CAREPATH_TOPIC_PREFIX=kafka_settings.topic_prefix,
        CONSUMER_GROUP=group,
    )
    process = await asyncio.create_subprocess_exec(
        str(consumer_python),
        "driver.py",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()[-3000:]
    seen = json.loads(out.decode().strip().splitlines()[-1])

    assert seen["handled"] == [
        {
            "session_id": data.session_id,
            "client_id": "client-42",
            "starts_at": "2026-12-01T17:00:00+00:00",
            "event_id": booked.envelope.id,
            "dataschema": "https://schemas.carepath.dev/events/session-booked.v1.json",
            "correlation_id": "journey-42",
        }
    ]
    assert str(consumer_python.parent.parent) in seen["package"]
    assert not seen["shared_importable"] and not seen["services_importable"]

    (dead,) = await read_records(kafka_settings, dead_letters, expect=1)
    headers = {name: value.decode() for name, value in dead.headers}
    assert dead.value == b"not json" and dead.key == poison.key
    assert headers["ce_id"] == poison.headers["ce_id"]
    assert headers["dlq_reason"] == "invalid_data" and headers["dlq_consumer"] == group
    assert headers["dlq_original_topic"] == topic
    assert spec_for(SessionBooked).dataschema == headers["ce_dataschema"]
