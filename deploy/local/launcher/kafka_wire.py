"""Just enough of the Kafka protocol to prove a broker serves: ApiVersions v0, a SCRAM-SHA-512
login (SaslHandshake v1, SaslAuthenticate v1) and Metadata v1-v8.

Pure functions on bytes (the socket round trip is in probes.py), so they are unit-tested
on hand-built frames. Only non-flexible versions are spoken: request header v1, no tagged
fields. Every parse failure is a NotReadyError naming what was wrong.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

from deploy.local.launcher.errors import NotReadyError

CLIENT_ID = b"carepath-launcher"
API_METADATA = 3
API_VERSIONS = 18
MAX_FRAME = 16 * 1024 * 1024  # far above any probe answer; an HTTP or TLS reply parses as gigabytes
# Metadata versions where the (non-flexible) wire format changes; v9+ is flexible.
METADATA_THROTTLE_FIRST = 3  # response starts with throttle_time_ms
METADATA_AUTO_CREATE_FLAG = 4  # request has allow_auto_topic_creation
METADATA_AUTHORIZED_OPS_FLAGS = 8  # request has two include_*_authorized_operations
METADATA_LAST_NON_FLEXIBLE = 8


def encode_request(api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    """A size-prefixed request with header v1 (api key, version, correlation id, client id)."""
    header = struct.pack(">hhih", api_key, version, correlation_id, len(CLIENT_ID)) + CLIENT_ID
    return struct.pack(">i", len(header) + len(body)) + header + body


def frame_size(prefix: bytes) -> int:
    """The size a response announces in its 4-byte prefix, refused when no broker would send it."""
    size: int = struct.unpack(">i", prefix)[0]
    if not 4 <= size <= MAX_FRAME:
        raise NotReadyError(f"not a Kafka response (frame size {size})")
    return size


def response_body(frame: bytes, correlation_id: int) -> bytes:
    """The body of a response frame (without its size prefix), checked against the request."""
    try:
        (answered,) = struct.unpack_from(">i", frame)
    except struct.error:
        raise NotReadyError("truncated Kafka response header") from None
    if answered != correlation_id:
        raise NotReadyError(f"Kafka answered correlation id {answered}, expected {correlation_id}")
    return frame[4:]


def api_versions_request(correlation_id: int) -> bytes:
    """ApiVersions v0 has an empty body; any Kafka broker answers it, even before auth."""
    return encode_request(API_VERSIONS, 0, correlation_id, b"")


def parse_api_versions(body: bytes) -> dict[int, tuple[int, int]]:
    """API key to (lowest, highest) supported version."""
    try:
        error_code, count = struct.unpack_from(">hi", body)
        if error_code != 0:
            raise NotReadyError(f"Kafka ApiVersions returned error code {error_code}")
        entries = (struct.unpack_from(">hhh", body, 6 + 6 * index) for index in range(count))
        return {api_key: (low, high) for api_key, low, high in entries}
    except struct.error:
        raise NotReadyError("truncated Kafka ApiVersions response") from None


def metadata_version(ranges: dict[int, tuple[int, int]]) -> int:
    """The newest Metadata version both this probe (1..8) and the broker speak."""
    low, high = ranges.get(API_METADATA, (0, -1))
    version = min(high, METADATA_LAST_NON_FLEXIBLE)
    if version < max(low, 1):
        raise NotReadyError(f"Kafka supports no Metadata version this probe speaks ({low}..{high})")
    return version


def metadata_request(version: int, correlation_id: int) -> bytes:
    """Metadata for no topics at all: the answer lists the brokers only."""
    body = struct.pack(">i", 0)
    if version >= METADATA_AUTO_CREATE_FLAG:
        body += b"\x00"
    if version >= METADATA_AUTHORIZED_OPS_FLAGS:
        body += b"\x00\x00"
    return encode_request(API_METADATA, version, correlation_id, body)


def parse_metadata_broker_ids(body: bytes, version: int) -> list[int]:
    """Node ids of the brokers listed: a KRaft broker lists itself once registered and unfenced."""
    try:
        offset = 4 if version >= METADATA_THROTTLE_FIRST else 0
        (count,) = struct.unpack_from(">i", body, offset)
        offset += 4
        broker_ids = []
        for _ in range(count):
            node_id, host_length = struct.unpack_from(">ih", body, offset)
            offset += 6 + host_length + 4  # host bytes, port
            (rack_length,) = struct.unpack_from(">h", body, offset)
            offset += 2 + max(rack_length, 0)
            broker_ids.append(node_id)
    except struct.error:
        raise NotReadyError("truncated Kafka Metadata response") from None
    return broker_ids


# --- SASL/SCRAM-SHA-512 (RFC 5802), so the probe authenticates like any client -------------

API_SASL_HANDSHAKE = 17
API_SASL_AUTHENTICATE = 36
SCRAM_MECHANISM = "SCRAM-SHA-512"


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">h", len(data)) + data


def sasl_handshake_request(correlation_id: int) -> bytes:
    """SaslHandshake v1: the client will authenticate with SCRAM-SHA-512 frames of SaslAuthenticate."""
    return encode_request(API_SASL_HANDSHAKE, 1, correlation_id, _string(SCRAM_MECHANISM))


def parse_sasl_handshake(body: bytes) -> None:
    try:
        (error_code,) = struct.unpack_from(">h", body)
    except struct.error:
        raise NotReadyError("truncated Kafka SaslHandshake response") from None
    if error_code != 0:
        raise NotReadyError(f"Kafka refused SASL mechanism {SCRAM_MECHANISM} (error code {error_code})")


def sasl_authenticate_request(correlation_id: int, auth_bytes: bytes) -> bytes:
    """SaslAuthenticate v1 carrying one SCRAM message."""
    return encode_request(
        API_SASL_AUTHENTICATE, 1, correlation_id, struct.pack(">i", len(auth_bytes)) + auth_bytes
    )


def parse_sasl_authenticate(body: bytes) -> bytes:
    """The server's SCRAM message; a refused login is a NotReadyError naming Kafka's reason."""
    try:
        error_code, message_length = struct.unpack_from(">hh", body)
        offset = 4 + max(message_length, 0)
        message = body[4:offset].decode(errors="replace") if message_length > 0 else ""
        (auth_length,) = struct.unpack_from(">i", body, offset)
        auth_bytes = body[offset + 4 : offset + 4 + max(auth_length, 0)]
    except struct.error:
        raise NotReadyError("truncated Kafka SaslAuthenticate response") from None
    if error_code != 0:
        raise NotReadyError(f"Kafka refused the SASL login (error code {error_code}: {message})")
    return auth_bytes


class ScramClient:
    """The client side of one SCRAM-SHA-512 exchange: first message, final message, server check."""

    def __init__(self, username: str, password: str, nonce: str) -> None:
        self._password = password.encode()
        name = username.replace("=", "=3D").replace(",", "=2C")
        self._first_bare = f"n={name},r={nonce}"
        self._nonce = nonce
        self._server_signature = b""

    def first_message(self) -> bytes:
        return f"n,,{self._first_bare}".encode()

    def final_message(self, server_first: bytes) -> bytes:
        text = server_first.decode()
        fields = dict(part.split("=", 1) for part in text.split(","))
        nonce, salt, iterations = fields.get("r", ""), fields.get("s", ""), fields.get("i", "")
        if not nonce.startswith(self._nonce) or not salt or not iterations.isdigit():
            raise NotReadyError("Kafka sent a malformed SCRAM challenge")
        salted = hashlib.pbkdf2_hmac("sha512", self._password, base64.b64decode(salt), int(iterations))
        client_key = hmac.digest(salted, b"Client Key", "sha512")
        without_proof = f"c=biws,r={nonce}"
        auth_message = f"{self._first_bare},{text},{without_proof}".encode()
        signature = hmac.digest(hashlib.sha512(client_key).digest(), auth_message, "sha512")
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = hmac.digest(salted, b"Server Key", "sha512")
        self._server_signature = hmac.digest(server_key, auth_message, "sha512")
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def check_server(self, server_final: bytes) -> None:
        """The broker proves it knows the password too (it is the broker we meant)."""
        verifier = server_final.decode().partition("v=")[2]
        if not hmac.compare_digest(base64.b64decode(verifier or "="), self._server_signature):
            raise NotReadyError("Kafka's SCRAM server signature does not match")
