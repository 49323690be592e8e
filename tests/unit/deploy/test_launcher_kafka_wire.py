"""The launcher's Kafka probe speaks ApiVersions v0 and Metadata v1-v8, checked on bytes."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy.local.launcher import kafka_wire
from deploy.local.launcher.errors import NotReadyError


def metadata_response(version: int, brokers: list[tuple[int, str, int, str | None]]) -> bytes:
    body = struct.pack(">i", 0) if version >= kafka_wire.METADATA_THROTTLE_FIRST else b""
    body += struct.pack(">i", len(brokers))
    for node_id, host, port, rack in brokers:
        body += struct.pack(">ih", node_id, len(host)) + host.encode() + struct.pack(">i", port)
        body += struct.pack(">h", -1) if rack is None else struct.pack(">h", len(rack)) + rack.encode()
    return body + b"\x00" * 8  # cluster id, controller id and topics follow; the probe stops reading


def test_request_is_size_prefixed_with_header_v1_and_the_client_id() -> None:
    frame = kafka_wire.api_versions_request(7)
    client = kafka_wire.CLIENT_ID
    assert frame == struct.pack(">ihhih", 10 + len(client), 18, 0, 7, len(client)) + client


def test_api_versions_answer_maps_each_api_to_its_version_range() -> None:
    body = struct.pack(">hi", 0, 2) + struct.pack(">hhh", 3, 0, 12) + struct.pack(">hhh", 18, 0, 4)
    assert kafka_wire.parse_api_versions(body) == {3: (0, 12), 18: (0, 4)}


def test_api_versions_error_code_means_not_ready() -> None:
    with pytest.raises(NotReadyError, match="error code 35"):
        kafka_wire.parse_api_versions(struct.pack(">hi", 35, 0))


@pytest.mark.parametrize(
    ("ranges", "expected"),
    [({3: (0, 12)}, 8), ({3: (0, 5)}, 5), ({3: (1, 1)}, 1)],
)
def test_metadata_version_is_the_newest_non_flexible_one_the_broker_speaks(
    ranges: dict[int, tuple[int, int]], expected: int
) -> None:
    assert kafka_wire.metadata_version(ranges) == expected


@pytest.mark.parametrize("ranges", [{}, {3: (9, 12)}, {3: (0, 0)}])
def test_a_broker_without_a_metadata_version_in_common_is_refused(ranges: dict[int, tuple[int, int]]) -> None:
    with pytest.raises(NotReadyError, match="no Metadata version"):
        kafka_wire.metadata_version(ranges)


@pytest.mark.parametrize(("version", "extra"), [(1, b""), (4, b"\x00"), (8, b"\x00\x00\x00")])
def test_metadata_request_asks_for_no_topics_with_the_flags_of_its_version(
    version: int, extra: bytes
) -> None:
    frame = kafka_wire.metadata_request(version, 2)
    assert frame.endswith(struct.pack(">i", 0) + extra)
    (api_key, sent_version) = struct.unpack_from(">hh", frame, 4)
    assert (api_key, sent_version) == (3, version)


@pytest.mark.parametrize("version", [1, 2, 3, 8])
def test_metadata_answer_lists_broker_ids_with_or_without_a_rack(version: int) -> None:
    body = metadata_response(version, [(1, "127.0.0.1", 9092, None), (2, "kafka-2", 9092, "rack-a")])
    assert kafka_wire.parse_metadata_broker_ids(body, version) == [1, 2]


def test_a_truncated_metadata_answer_means_not_ready() -> None:
    body = metadata_response(8, [(1, "127.0.0.1", 9092, None)])
    with pytest.raises(NotReadyError, match="truncated"):
        kafka_wire.parse_metadata_broker_ids(body[:12], 8)


def test_an_answer_to_another_request_is_refused() -> None:
    with pytest.raises(NotReadyError, match="correlation id 3, expected 2"):
        kafka_wire.response_body(struct.pack(">i", 3) + b"body", 2)
    assert kafka_wire.response_body(struct.pack(">i", 2) + b"body", 2) == b"body"


@pytest.mark.parametrize("prefix", [b"HTTP", b"\x16\x03\x01\x02", struct.pack(">i", 0)])
def test_a_size_no_broker_would_send_is_not_kafka(prefix: bytes) -> None:
    with pytest.raises(NotReadyError, match="not a Kafka response"):
        kafka_wire.frame_size(prefix)


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=8))
def test_parsers_turn_any_garbage_into_not_ready_never_a_crash(garbage: bytes, version: int) -> None:
    for parse in (
        kafka_wire.parse_api_versions,
        lambda body: kafka_wire.parse_metadata_broker_ids(body, version),
    ):
        with contextlib.suppress(NotReadyError):
            parse(garbage)
