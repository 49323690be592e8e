"""Readiness as a client sees it: a real protocol round trip, not just an open port."""

from __future__ import annotations

import secrets
import socket

from deploy.local.launcher import kafka_users, kafka_wire, mongo_wire
from deploy.local.launcher.errors import NotReadyError
from deploy.local.launcher.settings import LOOPBACK

PROBE_TIMEOUT_S = 2.0
PROBE_ERRORS = (OSError, NotReadyError)  # what a probe raises for a server not (yet) serving


def recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise NotReadyError("connection closed by the server")
        chunks += chunk
    return bytes(chunks)


def kafka_round_trip(sock: socket.socket, request: bytes, correlation_id: int) -> bytes:
    sock.sendall(request)
    frame = recv_exact(sock, kafka_wire.frame_size(recv_exact(sock, 4)))
    return kafka_wire.response_body(frame, correlation_id)


def probe_kafka(port: int, node_id: int | None) -> None:
    """ApiVersions answers, the super user logs in, and Metadata lists the broker (node_id, or any)."""
    with socket.create_connection((LOOPBACK, port), timeout=PROBE_TIMEOUT_S) as sock:
        ranges = kafka_wire.parse_api_versions(kafka_round_trip(sock, kafka_wire.api_versions_request(1), 1))
        log_in(sock, kafka_users.ADMIN, kafka_users.password_of(kafka_users.ADMIN), first_correlation_id=2)
        version = kafka_wire.metadata_version(ranges)
        body = kafka_round_trip(sock, kafka_wire.metadata_request(version, 5), 5)
        brokers = kafka_wire.parse_metadata_broker_ids(body, version)
    if node_id is None and not brokers:
        raise NotReadyError("the broker lists no broker yet")
    if node_id is not None and node_id not in brokers:
        raise NotReadyError("the broker has not registered with the controller yet")


def probe_mongo(port: int) -> None:
    """An OP_MSG `hello` on the admin database comes back with ok: 1."""
    request_id = 1
    with socket.create_connection((LOOPBACK, port), timeout=PROBE_TIMEOUT_S) as sock:
        sock.sendall(mongo_wire.hello_message(request_id))
        header = mongo_wire.parse_header(recv_exact(sock, mongo_wire.HEADER.size))
        payload = recv_exact(sock, header.length - mongo_wire.HEADER.size)
    mongo_wire.hello_reply(header, payload, request_id)


def log_in(sock: socket.socket, user: str, password: str, *, first_correlation_id: int) -> None:
    """SASL/SCRAM-SHA-512 on `sock`: the broker accepts only authenticated requests (DESIGN §8)."""
    handshake, first, final = first_correlation_id, first_correlation_id + 1, first_correlation_id + 2
    kafka_wire.parse_sasl_handshake(
        kafka_round_trip(sock, kafka_wire.sasl_handshake_request(handshake), handshake)
    )
    scram = kafka_wire.ScramClient(user, password, nonce=secrets.token_urlsafe(18))
    challenge = kafka_wire.parse_sasl_authenticate(
        kafka_round_trip(sock, kafka_wire.sasl_authenticate_request(first, scram.first_message()), first)
    )
    answer = kafka_wire.sasl_authenticate_request(final, scram.final_message(challenge))
    scram.check_server(kafka_wire.parse_sasl_authenticate(kafka_round_trip(sock, answer, final)))
