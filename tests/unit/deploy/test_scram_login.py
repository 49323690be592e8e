"""The launcher's readiness probe logs in with SCRAM-SHA-512 as RFC 5802 says (checked by a server side)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from deploy.local.launcher.errors import NotReadyError
from deploy.local.launcher.kafka_wire import ScramClient, parse_sasl_authenticate

SALT, ITERATIONS, PASSWORD = b"pepper-salt", 4096, "s3cret"


def server_keys(password: str) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha512", password.encode(), SALT, ITERATIONS)
    stored = hashlib.sha512(hmac.digest(salted, b"Client Key", "sha512")).digest()
    return stored, hmac.digest(salted, b"Server Key", "sha512")


def exchange(client: ScramClient, server_password: str) -> tuple[bool, bytes]:
    """What a broker does: verify the client's proof, and sign the exchange for the client."""
    first_bare = client.first_message().decode().removeprefix("n,,")
    nonce = dict(p.split("=", 1) for p in first_bare.split(","))["r"] + "server"
    server_first = f"r={nonce},s={base64.b64encode(SALT).decode()},i={ITERATIONS}"
    final = client.final_message(server_first.encode()).decode()
    without_proof, _, proof = final.rpartition(",p=")
    auth_message = f"{first_bare},{server_first},{without_proof}".encode()
    stored, server_key = server_keys(server_password)
    signature = hmac.digest(stored, auth_message, "sha512")
    client_key = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature, strict=True))
    accepted = hashlib.sha512(client_key).digest() == stored
    return (
        accepted,
        f"v={base64.b64encode(hmac.digest(server_key, auth_message, 'sha512')).decode()}".encode(),
    )


def test_the_proof_of_the_right_password_is_accepted_and_the_server_signature_checks() -> None:
    client = ScramClient("admin", PASSWORD, nonce="abc123")
    accepted, server_final = exchange(client, PASSWORD)
    assert accepted
    client.check_server(server_final)


def test_a_server_that_does_not_know_the_password_is_not_trusted() -> None:
    client = ScramClient("admin", PASSWORD, nonce="abc123")
    accepted, server_final = exchange(client, "another")
    assert not accepted
    with pytest.raises(NotReadyError, match="server signature"):
        client.check_server(server_final)


def test_a_refused_login_names_kafkas_reason() -> None:
    reason = b"Authentication failed"
    body = (58).to_bytes(2, "big") + len(reason).to_bytes(2, "big") + reason + (0).to_bytes(4, "big")
    with pytest.raises(NotReadyError, match="error code 58: Authentication failed"):
        parse_sasl_authenticate(body)
