"""The identity provider's keys: cached, fetched again on expiry or a rotation, never in a storm."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt import PyJWK
from jwt.algorithms import ECAlgorithm

from shared.security.identity_provider import IdentityProviderKeys, KeysUnavailable

CACHE_SECONDS = 300.0
REFETCH_SECONDS = 30.0


def public_jwk(kid: str) -> PyJWK:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return PyJWK({**ECAlgorithm.to_jwk(key, as_dict=True), "kid": kid, "use": "sig"})


class Provider:
    """A JWKS endpoint as a function: what it publishes now, and how often it was asked."""

    def __init__(self, *kids: str) -> None:
        self.keys = [public_jwk(kid) for kid in kids]
        self.fetches = 0
        self.down = False
        self.failure: Exception = jwt.PyJWKClientConnectionError("connection refused")

    def __call__(self) -> list[PyJWK]:
        self.fetches += 1
        if self.down:
            raise self.failure
        return list(self.keys)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cache_of(provider: Provider, clock: Clock, **timing: Any) -> IdentityProviderKeys:
    return IdentityProviderKeys(
        provider,
        cache_seconds=timing.get("cache_seconds", CACHE_SECONDS),
        refetch_seconds=timing.get("refetch_seconds", REFETCH_SECONDS),
        clock=clock,
    )


def test_keys_are_fetched_once_while_the_set_is_fresh() -> None:
    provider, clock = Provider("k1"), Clock()
    keys = cache_of(provider, clock)
    for _ in range(5):
        assert keys.signing_key("k1") is not None
        clock.now += 10
    assert provider.fetches == 1


def test_an_unknown_kid_fetches_again_at_most_once_per_refetch_interval() -> None:
    provider, clock = Provider("k1"), Clock()
    keys = cache_of(provider, clock)
    keys.signing_key("k1")
    clock.now += REFETCH_SECONDS
    assert [keys.signing_key(f"made-up-{n}") for n in range(20)] == [None] * 20
    assert provider.fetches == 2  # the first made-up kid fetched; the others waited
    clock.now += REFETCH_SECONDS - 1
    assert keys.signing_key("made-up-again") is None and provider.fetches == 2


def test_a_rotated_key_is_found_by_fetching_again_and_the_removed_one_refused() -> None:
    provider, clock = Provider("k1"), Clock()
    keys = cache_of(provider, clock)
    assert keys.signing_key("k1") is not None
    provider.keys = [public_jwk("k2")]
    clock.now += REFETCH_SECONDS
    assert keys.signing_key("k2") is not None
    assert keys.signing_key("k1") is None


def test_an_expired_set_is_fetched_again_even_for_a_known_kid() -> None:
    provider, clock = Provider("k1", "k2"), Clock()
    keys = cache_of(provider, clock)
    keys.signing_key("k1")
    provider.keys = [key for key in provider.keys if key.key_id == "k2"]
    clock.now += CACHE_SECONDS
    assert keys.signing_key("k1") is None and provider.fetches == 2


@pytest.mark.parametrize(
    "failure",
    [jwt.PyJWKClientConnectionError("connection refused"), ValueError("not JSON"), TimeoutError()],
)
def test_a_failed_fetch_keeps_the_last_keys_and_is_not_retried_at_once(failure: Exception) -> None:
    provider, clock = Provider("k1"), Clock()
    keys = cache_of(provider, clock)
    keys.signing_key("k1")
    provider.down, provider.failure = True, failure
    clock.now += CACHE_SECONDS
    assert keys.signing_key("k1") is not None  # stale, but the provider did not answer
    assert keys.signing_key("k1") is not None
    assert provider.fetches == 2
    provider.down = False
    clock.now += REFETCH_SECONDS
    keys.signing_key("k1")
    assert provider.fetches == 3


def test_keys_never_fetched_are_unavailable_and_retried_only_after_the_interval() -> None:
    provider, clock = Provider("k1"), Clock()
    provider.down = True
    keys = cache_of(provider, clock)
    for _ in range(3):
        with pytest.raises(KeysUnavailable):
            keys.signing_key("k1")
    assert provider.fetches == 1


def test_symmetric_keys_in_the_set_are_never_used() -> None:
    provider, clock = Provider("k1"), Clock()
    provider.keys.append(PyJWK({"kty": "oct", "k": "c2VjcmV0LXNoYXJlZC13aXRoLWV2ZXJ5b25l", "kid": "shared"}))
    assert cache_of(provider, clock).signing_key("shared") is None


def test_fetch_is_due_only_when_a_lookup_would_fetch() -> None:
    provider, clock = Provider("k1"), Clock()
    keys = cache_of(provider, clock)
    assert keys.fetch_due("k1")
    keys.signing_key("k1")
    assert not keys.fetch_due("k1") and not keys.fetch_due("k9")
    clock.now += REFETCH_SECONDS
    assert keys.fetch_due("k9") and not keys.fetch_due("k1")
