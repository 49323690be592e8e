"""A service process built from `shared/`, run for real: health, auth, metrics, graceful stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from pydantic import SecretStr

from shared.events.models import CheckInDue
from shared.events.registry import spec_for
from shared.http.auth import Role, mint_token
from shared.messaging.subscriptions import group_for
from shared.settings import AuthSettings, KafkaSettings
from shared.storage.documents import public
from tests.support.infrastructure import REPO, Infrastructure, free_port
from tests.support.kafka import check_in_due, committed_offsets, event, publish_events

SECRET = "e2e-secret-long-enough-for-hs256-signatures"


@contextmanager
def probe_process(
    infra: Infrastructure, kafka: KafkaSettings, database: str, **env: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.probe_service"],
        cwd=REPO,
        env={
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
            "KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
            "MONGODB_URI": infra.mongodb_uri,
            "JWT_SECRET": SECRET,
            "PROBE_HTTP_HOST": "127.0.0.1",
            "PROBE_HTTP_PORT": str(port),
            "PROBE_MONGODB_DATABASE": database,
            "PROBE_CONSUMER_GROUP": f"{kafka.topic_prefix}probe",
            "PROBE_METRICS_PORT": str(free_port()),  # never the HTTP port + 1000 another test may hold
            **env,
        },
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, process)
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_until_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the service process exited during start-up"
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("service never became ready")


def wait_for(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def auth_header(role: Role) -> dict[str, str]:
    token = mint_token(AuthSettings(secret=SecretStr(SECRET)), subject="e2e", role=role)
    return {"Authorization": f"Bearer {token}"}


async def test_service_reports_health_readiness_and_metrics_on_a_port_of_their_own(
    infrastructure: Infrastructure, kafka_settings: KafkaSettings, mongo_db: Any
) -> None:
    metrics_port = free_port()
    with probe_process(
        infrastructure, kafka_settings, mongo_db.name, PROBE_METRICS_PORT=str(metrics_port)
    ) as (_, base):
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz").json()
        assert ready == {
            "status": "ready",
            "checks": {"kafka": "ok", "mongodb": "ok", "consuming": "ok"},
        }
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        assert "carepath_events_consumed_total" in metrics
        assert httpx.get(f"{base}/metrics").status_code == 404  # not on the API port
        assert httpx.get(f"{base}/docs").status_code == 200


async def test_protected_route_refuses_missing_and_wrong_role_tokens(
    infrastructure: Infrastructure, kafka_settings: KafkaSettings, mongo_db: Any
) -> None:
    with probe_process(infrastructure, kafka_settings, mongo_db.name) as (_, base):
        assert httpx.get(f"{base}/v1/effects/x").status_code == 401
        assert httpx.get(f"{base}/v1/effects/x", headers=auth_header(Role.client)).status_code == 403
        missing = httpx.get(f"{base}/v1/effects/x", headers=auth_header(Role.admin))
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"


async def test_sigterm_lets_the_event_in_hand_finish_and_commits_before_exit(
    infrastructure: Infrastructure, kafka_settings: KafkaSettings, mongo_db: Any
) -> None:
    group = group_for(f"{kafka_settings.topic_prefix}probe", spec_for(CheckInDue))
    with probe_process(infrastructure, kafka_settings, mongo_db.name, PROBE_HANDLER_SECONDS="3") as (
        process,
        base,
    ):
        await publish_events(kafka_settings, event(check_in_due(check_in_id="ci-in-flight")))
        admin = auth_header(Role.admin)
        wait_for(lambda: httpx.get(f"{base}/v1/effects/ci-in-flight", headers=admin).status_code == 200)

        process.send_signal(signal.SIGTERM)  # mid-handle: the handler sleeps 3 s
        # uvicorn shuts down gracefully, then re-raises SIGTERM so supervisors see it.
        assert process.wait(timeout=40) in (0, -signal.SIGTERM)

    effect = await mongo_db["effects"].find_one({"_id": "ci-in-flight"})
    assert effect is not None and public(effect) == {"_id": "ci-in-flight", "started": 1, "finished": 1}
    offsets = await committed_offsets(kafka_settings, group)
    assert sum(offsets.values()) == 1, "the handled record's offset was committed before exit"
