"""What the launcher reads from /proc and its pid files, checked on sample text."""

from __future__ import annotations

import pytest

from deploy.local.launcher.processes import (
    PidRecord,
    listening_inodes,
    parse_proc_stat,
    summarize_command,
)
from deploy.local.launcher.toolchain import parse_go_version, parse_java_major

PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2384 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41001 1 0
   1: 0100007F:6989 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41002 1 0
   2: 0100007F:2384 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 41003 1 0
"""


def test_a_pid_record_reads_back_what_was_written() -> None:
    record = PidRecord(1234, (9092, 9093), "Kafka 4.1.2")
    assert PidRecord.parse(record.render()) == record


@pytest.mark.parametrize("text", ["", "not a pid\n", "12\nports=x\n"])
def test_a_damaged_pid_file_reads_as_no_record(text: str) -> None:
    assert PidRecord.parse(text) is None


def test_proc_stat_survives_a_command_name_with_spaces_and_parentheses() -> None:
    assert parse_proc_stat("4321 (my (odd) name) S 1 4321 4321 0 -1") == ("S", 4321)


def test_only_listening_sockets_on_the_port_are_found() -> None:
    assert listening_inodes(PROC_NET_TCP, 9092) == {"41001"}  # 0x2384; the connected one is not listening
    assert listening_inodes(PROC_NET_TCP, 27017) == {"41002"}
    assert listening_inodes(PROC_NET_TCP, 1) == set()


@pytest.mark.parametrize(
    ("arguments", "summary"),
    [
        (
            ["java", "-Xmx512m", "-Dcarepath.local.dir=/w/.local", "kafka.Kafka"],
            "Kafka of the Carepath launcher in /w/.local",
        ),
        (["/c/ferretdb", "-sqlite-url", "file:/w/data/ferretdb/"], "FerretDB with data in /w/data/ferretdb/"),
        (["mongod", "--dbpath", "/d"], "mongod with data in /d"),
        (["python3", "-m", "http.server"], "python3 -m http.server"),
        (["x" * 200], "x" * 97 + "..."),
    ],
)
def test_a_port_holder_is_described_by_what_it_serves(arguments: list[str], summary: str) -> None:
    assert summarize_command(arguments) == summary


@pytest.mark.parametrize(
    ("output", "major"),
    [('openjdk version "17.0.15" 2025-04-15', 17), ('java version "1.8.0_392"', 8), ("nonsense", None)],
)
def test_java_versions_old_and_new_style(output: str, major: int | None) -> None:
    assert parse_java_major(output) == major


def test_go_versions() -> None:
    assert parse_go_version("go1.26.8\n") == (1, 26)
    assert parse_go_version("devel") is None
