"""The identity provider's public keys (`JWT_JWKS_URL`), so no service holds a key that signs tokens.

A token names its signing key by `kid`. The provider's JWKS is fetched over HTTP with
PyJWT's `PyJWKClient` (http(s) only, no redirects, signing keys with a kid) and kept for
`JWT_JWKS_CACHE_SECONDS`. A kid the cached set lacks (the provider rotated) makes it fetch
again at once, but never sooner than `JWT_JWKS_REFETCH_SECONDS` after the last attempt, so
tokens with made-up kids cannot turn every request into a fetch. A key the provider has
removed is refused from the next fetch on.

Why not `PyJWKClient`'s own cache: once its set expires, a provider that does not answer
leaves it with no keys and every request waits on a fetch of its own. Here a failed fetch
keeps the last keys (a removed key so outlives its removal while the provider is
unreachable: the usual trade for not refusing everyone in that time) and is retried only
after the same pause.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import cache

import jwt
from jwt import PyJWK, PyJWKClient

from shared.observability.logs import get_logger

log = get_logger(__name__)

# Symmetric (`oct`) keys in a JWKS are shared secrets: never a provider's signing key here.
ASYMMETRIC_KEY_TYPES = frozenset({"RSA", "EC"})


class KeysUnavailable(Exception):
    """The provider's keys have never been fetched: no token can be checked yet."""


class IdentityProviderKeys:
    """The provider's signing keys by kid: cached, fetched again on expiry or on an unknown kid."""

    def __init__(
        self,
        fetch: Callable[[], list[PyJWK]],
        *,
        cache_seconds: float,
        refetch_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._cache_seconds = cache_seconds
        self._refetch_seconds = refetch_seconds
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = threading.Lock()

    def signing_key(self, kid: str) -> PyJWK | None:
        """The provider's key named `kid`, fetching first when due; None when it publishes none such."""
        if self.fetch_due(kid):
            with self._lock:
                if self.fetch_due(kid):  # another thread may have fetched while this one waited
                    self._refresh()
        if self._fetched_at is None:
            raise KeysUnavailable("the identity provider's keys could not be fetched")
        return self._keys.get(kid)

    def fetch_due(self, kid: str) -> bool:
        """Whether looking up `kid` now would fetch the JWKS (lets async callers fetch off the loop)."""
        now = self._clock()
        if self._attempted_at is not None and now - self._attempted_at < self._refetch_seconds:
            return False
        expired = self._fetched_at is None or now - self._fetched_at >= self._cache_seconds
        return expired or kid not in self._keys

    def _refresh(self) -> None:
        try:
            keys = self._fetch()
        except (jwt.PyJWTError, ValueError, OSError) as error:  # unreachable, not JSON, no usable key
            log.warning(
                "identity provider keys not fetched; the last ones stay", error_type=type(error).__name__
            )
        else:
            # Replaced whole (one assignment), so a reader without the lock sees one set or the other.
            self._keys = {
                key.key_id: key for key in keys if key.key_id and key.key_type in ASYMMETRIC_KEY_TYPES
            }
            self._fetched_at = self._clock()
        finally:
            self._attempted_at = self._clock()


@cache
def keys_at(
    url: str, *, cache_seconds: float, refetch_seconds: float, timeout_seconds: float
) -> IdentityProviderKeys:
    """The one key cache per JWKS URL in this process, shared by every request."""
    client = PyJWKClient(url, cache_jwk_set=False, timeout=timeout_seconds)
    return IdentityProviderKeys(
        client.get_signing_keys, cache_seconds=cache_seconds, refetch_seconds=refetch_seconds
    )
