"""Unit tests see no infrastructure: not even the Kafka login a run exports for the other layers."""

from __future__ import annotations

import pytest

KAFKA_LOGIN = (
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "CAREPATH_KAFKA_ACLS",
)


@pytest.fixture(autouse=True)
def no_kafka_login(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings built in a unit test read their defaults, as on a machine without a broker."""
    for name in KAFKA_LOGIN:
        monkeypatch.delenv(name, raising=False)
