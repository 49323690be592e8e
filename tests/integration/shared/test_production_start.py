"""The acceptance of issue 19: a service process in production with a published secret does not start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from shared.security.field_encryption import new_key

REPO = Path(__file__).resolve().parents[3]
DEV_JWT_SECRET = "carepath-local-development-secret-do-not-use-in-production"
# Settings the service reads from the environment, dropped from the test run's (which holds
# `make test`'s development defaults) so that each process gets exactly what its test says.
SETTING_PREFIXES = ("CAREPATH_", "JWT_", "KAFKA_", "FIELD_ENCRYPTION_", "DEMO_CLOCK_", "INTAKE_")


def start_intake(**settings: str) -> tuple[subprocess.CompletedProcess[str], float]:
    inherited = {name: value for name, value in os.environ.items() if not name.startswith(SETTING_PREFIXES)}
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-m", "services.intake"],
        cwd=REPO,
        env={**inherited, **settings},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return process, time.monotonic() - started


def production_settings_but(**unsafe: str) -> dict[str, str]:
    """Everything production asks for, with `unsafe` in place of the safe value."""
    return {
        "CAREPATH_ENV": "production",
        "JWT_SECRET": "a-production-secret-of-more-than-thirty-two-bytes",
        "CAREPATH_EVENT_ID_SECRET": "a-deployment-key-for-derived-event-ids-of-its-own",
        # Nowhere: the process must stop before it would connect.
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "intake",
        "KAFKA_SASL_PASSWORD": "intake-password",
        "FIELD_ENCRYPTION_KEYS": f"k1:{new_key()}",
        "FIELD_ENCRYPTION_ACTIVE_KEY": "k1",
        **unsafe,
    }


def test_intake_in_production_with_the_development_jwt_secret_exits_at_once_naming_jwt_secret() -> None:
    process, took = start_intake(**production_settings_but(JWT_SECRET=DEV_JWT_SECRET))
    assert process.returncode != 0
    assert took < 15, f"took {took:.1f} s to refuse"
    assert "JWT_SECRET is a development secret published in this repository" in process.stderr
    assert "KAFKA" not in process.stderr  # nothing else was refused
    assert DEV_JWT_SECRET not in process.stderr
    assert "Traceback" not in process.stderr
    # Every other refusal is proven in process: tests/unit/shared/test_production_settings.py.
