"""Launcher settings from the environment: defaults, and wrong values named by their variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local.launcher.errors import LauncherError
from deploy.local.launcher.layout import REPO_ROOT
from deploy.local.launcher.settings import Settings


def test_defaults_are_the_usual_ports_under_the_repository_state_folder() -> None:
    settings = Settings.from_env({})
    assert (settings.kafka_port, settings.controller_port, settings.mongo_port) == (9092, 9093, 27017)
    assert settings.state_dir == REPO_ROOT / ".local"
    assert settings.layout.cache == REPO_ROOT / ".local" / "cache"
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.mongodb_uri == "mongodb://127.0.0.1:27017/"


def test_a_shared_cache_can_live_outside_the_state_folder(tmp_path: Path) -> None:
    settings = Settings.from_env({"CAREPATH_LOCAL_DIR": str(tmp_path / "a"), "CAREPATH_CACHE_DIR": "/tmp/c"})
    assert settings.layout.root == tmp_path / "a"
    assert settings.layout.pid_file("kafka") == tmp_path / "a" / "run" / "kafka.pid"
    assert settings.cache_dir == Path("/tmp/c")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CAREPATH_KAFKA_PORT": "ninety"}, "CAREPATH_KAFKA_PORT must be an integer"),
        ({"CAREPATH_MONGO_PORT": "70000"}, "CAREPATH_MONGO_PORT must be between 1 and 65535"),
        ({"CAREPATH_MONGO_PORT": "9092"}, "ports must differ"),
        ({"CAREPATH_MONGO_BACKEND": "postgres"}, "must be 'ferretdb' or 'mongod'"),
        ({"CAREPATH_KAFKA_HEAP": "lots"}, "CAREPATH_KAFKA_HEAP must look like 512m"),
    ],
)
def test_a_wrong_setting_is_named_in_the_error(environ: dict[str, str], message: str) -> None:
    with pytest.raises(LauncherError, match=message):
        Settings.from_env(environ)


def test_each_port_names_the_variable_that_moves_it() -> None:
    names = Settings.from_env({"CAREPATH_KAFKA_PORT": "19092"}).port_names
    assert names[19092] == "CAREPATH_KAFKA_PORT"
    assert names[27017] == "CAREPATH_MONGO_PORT"
