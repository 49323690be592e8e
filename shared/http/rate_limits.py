"""Rate limits on the public routes: per principal and per address, in memory, per replica.

    limits = RateLimits.of_service(settings)  # INTAKE_RATE_LIMIT_PER_MINUTE, ...
    app.add_middleware(RateLimit, limits=limits, principal_of=verified_principal(settings.auth))

Two token buckets answer each request, before its body is read or a route runs:

- per address: the client's IP (an IPv6 client by its /64, the block one subscriber
  gets, so rotating addresses inside it buys nothing), which bounds unauthenticated
  floods and token guessing too;
- per principal: the bearer token's role and subject, once the token verifies. A forged
  or expired token is counted by address only (and the route answers it 401), so nobody
  can spend another caller's budget by naming them in a token they cannot sign.

Over either limit: 429 problem+json with `Retry-After`, the whole seconds until a request
would pass. `/healthz` and `/readyz` are exempt: Kubernetes' probes must never be refused.

The buckets live in this replica's memory, so the limits are per replica: N replicas
behind a load balancer admit up to N times the configured rate in total. That is the
known shortcut; the fix, a counter shared by the replicas (or the gateway's own limiter),
is worth it only once a per-replica bound is not tight enough. Memory stays bounded: at
most `max_keys` buckets, the least recently used dropped first (a dropped bucket starts
full again, as an idle caller's would be by then).

The client address is the connection's peer. `X-Forwarded-For` counts only when the peer
is one of `<SVC>_TRUSTED_PROXIES` (`create_service_app` then adds uvicorn's
`ProxyHeadersMiddleware` for exactly those): trusted by default, the header would let
anyone choose their own address, and with it a fresh bucket per request.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from fastapi.security import HTTPAuthorizationCredentials
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.http.auth import Principal, authenticate_without_blocking
from shared.http.problems import Problem, problem_response
from shared.settings import AuthSettings, ServiceSettings, TextList

EXEMPT_PATHS: Final = frozenset({"/healthz", "/readyz"})
"""Probes: answered whatever the traffic, or Kubernetes would restart a merely busy pod."""

RATE_LIMITED: Final = "https://carepath.dev/problems/rate-limited"

Clock = Callable[[], float]
PrincipalOf = Callable[[str], Awaitable[Principal | None]]
VERIFIED_PRINCIPAL = "verified_principal"
"""Where the limiter leaves the caller it verified, in the request's state."""
"""A bearer token to the key of the principal it proves (`role:subject`), or None if it proves none."""


class RateLimits(BaseSettings):
    """How many requests a replica takes, read under the service's prefix (`INTAKE_RATE_LIMIT_...`).

    `*_PER_MINUTE` is the sustained rate, `*_BURST` how many may come at once after a quiet
    spell; a rate of 0 turns that limit off. The defaults leave a person (a handful of
    requests a page) and a busy front end far from the limit and stop a scripted flood
    within a second. A platform backend calling for many users with one `service` token,
    or many users behind one NAT, needs them raised.
    """

    model_config = SettingsConfigDict(extra="ignore")

    rate_limit_per_minute: int = Field(default=600, ge=0)
    rate_limit_burst: int = Field(default=120, ge=1)
    rate_limit_per_address_per_minute: int = Field(default=3000, ge=0)
    rate_limit_per_address_burst: int = Field(default=600, ge=1)
    # Peers (IPs or CIDRs, comma-separated) whose `X-Forwarded-For` names the client: the
    # ingress or gateway in front of the service. Empty: the header is ignored.
    trusted_proxies: TextList = Field(default_factory=list)

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_or_networks(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                # `*` included: trusting every peer lets every client pick its own address.
                raise ValueError(f"{entry!r} is not an IP address or network (CIDR)") from None
        return entries

    @classmethod
    def of_service(cls, settings: ServiceSettings) -> RateLimits:
        """The limits the environment sets for `settings`' service, under its own prefix."""
        # `_env_prefix` is pydantic-settings' own init argument; mypy knows only the fields.
        return cls(_env_prefix=settings.model_config.get("env_prefix", ""))  # type: ignore[call-arg]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """One token bucket per key: `burst` requests at once, refilled at `per_minute` a minute."""

    def __init__(
        self, *, per_minute: int, burst: int, clock: Clock = time.monotonic, max_keys: int = 100_000
    ) -> None:
        if per_minute <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("a token bucket needs a positive rate, a burst of at least 1 and room for a key")
        self._per_second = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()  # least recently used first

    def take(self, key: str) -> float | None:
        """Take a token for one request of `key`: None when granted, else the seconds until
        a token is back (a refused request takes nothing, so waiting that long is enough)."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._burst, now)
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self._burst, bucket.tokens + max(0.0, now - bucket.at) * self._per_second)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self._per_second

    def __len__(self) -> int:
        return len(self._buckets)


def verified_principal(auth: AuthSettings) -> PrincipalOf:
    """Keys principals by a token that verifies (checked as the routes check it), else none.

    A refused token, or one that cannot be checked yet (the identity provider's keys out of
    reach), proves no principal: the request is counted by address and the route answers it.
    """

    async def principal_of(token: str) -> Principal | None:
        try:
            return await authenticate_without_blocking(
                HTTPAuthorizationCredentials(scheme="Bearer", credentials=token), auth
            )
        except Problem:
            return None

    return principal_of


def address_of(scope: Scope) -> str:
    """The key of the client's address: its IP, an IPv6 client's /64, or the peer as given."""
    client = scope.get("client")
    host = str(client[0]) if client else ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer":
                return None
            return token.strip() or None
    return None


class RateLimit:
    """ASGI middleware: 429 problem+json with `Retry-After` past either limit (module docstring)."""

    def __init__(
        self, app: ASGIApp, *, limits: RateLimits, principal_of: PrincipalOf, clock: Clock = time.monotonic
    ) -> None:
        self.app = app
        self.principal_of = principal_of
        self.by_address = _buckets(
            limits.rate_limit_per_address_per_minute, limits.rate_limit_per_address_burst, clock
        )
        self.by_principal = _buckets(limits.rate_limit_per_minute, limits.rate_limit_burst, clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        refusal = await self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await problem_response(refusal, Request(scope))(scope, receive, send)

    async def _refusal(self, scope: Scope) -> Problem | None:
        # By address first, so a flood of forged tokens costs no signature checks past its limit.
        if self.by_address is not None and (wait := self.by_address.take(address_of(scope))) is not None:
            return _too_many("from this address", wait, "address")
        if self.by_principal is None or (token := bearer_token(scope)) is None:
            return None
        if (principal := await self.principal_of(token)) is None:
            return None
        # The routes' `caller` takes it from here instead of checking the signature again.
        scope.setdefault("state", {})[VERIFIED_PRINCIPAL] = principal
        if (wait := self.by_principal.take(f"{principal.role.value}:{principal.subject}")) is not None:
            return _too_many("for this caller", wait, "principal")
        return None


def _buckets(per_minute: int, burst: int, clock: Clock) -> TokenBuckets | None:
    return TokenBuckets(per_minute=per_minute, burst=burst, clock=clock) if per_minute > 0 else None


def _too_many(whose: str, wait: float, limit: str) -> Problem:
    seconds = max(1, math.ceil(wait))
    return Problem(
        429,
        "Too Many Requests",
        f"too many requests {whose}; retry in {seconds} s",
        type_=RATE_LIMITED,
        headers={"Retry-After": str(seconds)},
        limit=limit,
    )
