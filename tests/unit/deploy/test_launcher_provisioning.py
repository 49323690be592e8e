"""When the suite starts servers, and how it reads what the launcher says."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local.discovery import LauncherRun, parse_up_output
from tests.support.infrastructure import REPO, selects_infrastructure


@pytest.mark.parametrize(
    "args",
    [
        ["tests/unit", "tests/integration", "tests/e2e"],
        ["tests"],
        ["."],
        ["tests/integration/test_outbox_relay.py::test_x"],
        ["-k", "relay", "tests/e2e/"],
    ],
)
def test_runs_that_reach_integration_or_e2e_tests_get_servers(args: list[str]) -> None:
    assert selects_infrastructure(args, REPO)


@pytest.mark.parametrize(
    "args",
    [["tests/unit"], ["tests/unit/test_settings.py::test_x"], ["-x", "tests/unit", "-q"], []],
)
def test_unit_only_runs_start_nothing(args: list[str]) -> None:
    assert not selects_infrastructure(args, REPO)


def test_paths_are_read_from_where_pytest_was_invoked() -> None:
    assert selects_infrastructure(["integration"], REPO / "tests")
    assert not selects_infrastructure(["unit"], REPO / "tests")
    assert not selects_infrastructure(["tests/integration"], Path("/elsewhere"))


def test_up_output_gives_the_addresses_and_what_this_up_started() -> None:
    stdout = (
        "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092\nMONGODB_URI=mongodb://127.0.0.1:27017/\n"
        "# env file: /x/.local/run/infra.env\n# started: mongo\n"
    )
    values, started = parse_up_output(stdout)
    assert values == {
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
        "MONGODB_URI": "mongodb://127.0.0.1:27017/",
    }
    assert started == ["mongo"]
    assert parse_up_output("KAFKA_BOOTSTRAP_SERVERS=a\nMONGODB_URI=b\n")[1] == []


def test_a_launcher_failure_is_reported_in_its_own_words() -> None:
    failure = "carepath launcher: port 127.0.0.1:9092 is in use by pid 7, which this launcher did not start"
    stderr = f"carepath launcher: building FerretDB...\n{failure}\nlast log line\n"
    assert LauncherRun(1, "", stderr).reason() == f"{failure}\nlast log line"
