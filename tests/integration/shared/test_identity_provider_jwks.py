"""Tokens from the identity provider, checked against its JWKS served for real on loopback.

A real HTTP server publishes the keys; requests go through a route's `Caller` dependency,
so a refusal is the 401 a platform backend would get. Each test has its own server (its
own URL), hence its own key cache.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import APIRouter
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from shared.http.auth import Principal, Role, authenticate_without_blocking
from shared.http.dependencies import Caller
from shared.settings import AuthSettings
from tests.support.http_stand_in import client_for, stand_in_runtime

router = APIRouter()


@router.get("/whoami")
async def whoami(who: Caller) -> dict[str, str]:
    return {"subject": who.subject, "role": who.role.value}


class SigningKey:
    """What the identity provider holds: a private key, its kid, and the public half it publishes."""

    def __init__(self, kid: str, algorithm: str = "RS256") -> None:
        self.kid, self.algorithm = kid, algorithm
        if algorithm == "RS256":
            self.private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            public = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk = {**public, "kid": kid, "use": "sig", "alg": algorithm}

    def token(self, subject: str = "therapist-7", role: Role = Role.clinician) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": subject,
            "role": role.value,
            "iss": "carepath",
            "aud": "carepath",
            "exp": now + timedelta(minutes=5),
        }
        return jwt.encode(claims, self.private, algorithm=self.algorithm, headers={"kid": self.kid})


class JwksServer:
    """A loopback JWKS endpoint: publishes what the test says, counts fetches, may answer slowly."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        self.delay = 0.0
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.fetches += 1
                time.sleep(served.delay)
                body = json.dumps({"keys": served.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/.well-known/jwks.json"

    def publish(self, *keys: SigningKey) -> None:
        self.keys = [key.jwk for key in keys]


@pytest.fixture
def provider() -> Iterator[JwksServer]:
    server = JwksServer()
    thread = threading.Thread(target=server.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.http.shutdown()
        server.http.server_close()


def api_verifying(auth: AuthSettings) -> TestClient:
    runtime = stand_in_runtime()
    runtime.settings.auth = auth
    return client_for(router, runtime)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_rotated_key_verifies_without_restart_and_a_removed_key_is_refused(provider: JwksServer) -> None:
    first, second = SigningKey("key-1"), SigningKey("key-2")
    api = api_verifying(AuthSettings(jwks_url=provider.url, algorithm="RS256", jwks_refetch_seconds=0))
    provider.publish(first)
    answer = api.get("/v1/whoami", headers=bearer(first.token()))
    assert answer.status_code == 200 and answer.json() == {"subject": "therapist-7", "role": "clinician"}

    provider.publish(second)  # the provider rotates: key 2 signs, key 1 is withdrawn
    assert api.get("/v1/whoami", headers=bearer(second.token())).status_code == 200
    refused = api.get("/v1/whoami", headers=bearer(first.token()))
    assert refused.status_code == 401
    assert "does not publish" in refused.json()["detail"]


def test_known_keys_are_fetched_once_and_made_up_kids_fetch_nothing_within_the_interval(
    provider: JwksServer,
) -> None:
    key = SigningKey("key-1")
    provider.publish(key)
    api = api_verifying(AuthSettings(jwks_url=provider.url, algorithm="RS256", jwks_refetch_seconds=30))
    for _ in range(10):
        assert api.get("/v1/whoami", headers=bearer(key.token())).status_code == 200
    impostor = SigningKey("key-1")  # same algorithm, same header, another private key
    for n in range(10):
        impostor.kid = f"made-up-{n}"
        assert api.get("/v1/whoami", headers=bearer(impostor.token())).status_code == 401
    impostor.kid = "key-1"
    assert api.get("/v1/whoami", headers=bearer(impostor.token())).status_code == 401
    assert provider.fetches == 1


def test_es256_tokens_verify_against_the_providers_ec_keys(provider: JwksServer) -> None:
    key = SigningKey("ec-1", algorithm="ES256")
    provider.publish(key)
    api = api_verifying(AuthSettings(jwks_url=provider.url, algorithm="ES256"))
    assert api.get("/v1/whoami", headers=bearer(key.token(role=Role.client))).json()["role"] == "client"


def test_a_token_signed_hs256_with_the_published_public_key_is_refused(provider: JwksServer) -> None:
    key = SigningKey("key-1")
    provider.publish(key)
    public_pem = key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def part(value: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    claims = {"sub": "admin", "role": "admin", "iss": "carepath", "aud": "carepath", "exp": time.time() + 300}
    signing_input = part({"alg": "HS256", "typ": "JWT", "kid": "key-1"}) + b"." + part(claims)
    signature = base64.urlsafe_b64encode(hmac.new(public_pem, signing_input, hashlib.sha256).digest()).rstrip(
        b"="
    )
    forged = (signing_input + b"." + signature).decode()
    api = api_verifying(AuthSettings(jwks_url=provider.url, algorithm="RS256"))
    assert api.get("/v1/whoami", headers=bearer(forged)).status_code == 401


def test_an_unreachable_provider_answers_503_with_retry_after() -> None:
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{closed.server_port}/jwks.json"
    closed.server_close()
    api = api_verifying(AuthSettings(jwks_url=url, algorithm="RS256", jwks_refetch_seconds=5))
    answer = api.get("/v1/whoami", headers=bearer(SigningKey("key-1").token()))
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"


async def test_a_key_fetch_does_not_hold_up_the_event_loop(provider: JwksServer) -> None:
    key = SigningKey("key-1")
    provider.publish(key)
    provider.delay = 0.5  # a slow identity provider
    auth = AuthSettings(jwks_url=provider.url, algorithm="RS256")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=key.token())
        who = await authenticate_without_blocking(credentials, auth)
    finally:
        ticker.cancel()
    assert who == Principal("therapist-7", Role.clinician)
    assert ticks >= 20  # the loop kept running while the keys were fetched (0.5 s)
