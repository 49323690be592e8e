"""Rate limits: the token buckets on a fake clock, then the service app answering 429 with `Retry-After`.

The app is the one `create_service_app` builds, around a real (never started) runtime:
nothing here reaches Kafka or MongoDB, and the limiter is the code a service runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import SecretStr, ValidationError

from shared.http import dependencies, rate_limits
from shared.http.app import create_service_app
from shared.http.auth import Role
from shared.http.dependencies import Caller
from shared.http.rate_limits import RateLimits, TokenBuckets, address_of
from shared.runtime import ServiceRuntime
from shared.settings import AuthSettings
from tests.support.http_stand_in import bearer
from tests.support.probe_service import ProbeSettings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------ the buckets


def test_a_burst_passes_at_once_then_the_next_request_is_told_when_a_token_is_back() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=60, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [None, None, None]
    assert buckets.take("a") == pytest.approx(1.0)  # one token a second
    clock.now += 0.25
    assert buckets.take("a") == pytest.approx(0.75)


def test_refused_requests_take_nothing_so_waiting_the_time_given_is_enough() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=30, burst=1, clock=clock)
    assert buckets.take("a") is None
    wait = buckets.take("a")
    assert wait == pytest.approx(2.0)
    for _ in range(10):  # hammering while refused does not push the next token further away
        assert buckets.take("a") is not None
    clock.now += 2.0
    assert buckets.take("a") is None


def test_tokens_refill_at_the_sustained_rate_but_never_past_the_burst() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=120, burst=2, clock=clock)
    assert buckets.take("a") is None and buckets.take("a") is None
    clock.now += 3600  # an hour idle refills two tokens, not 7,200
    assert [buckets.take("a") for _ in range(3)][:2] == [None, None]
    assert buckets.take("a") is not None


def test_each_key_has_a_bucket_of_its_own() -> None:
    buckets = TokenBuckets(per_minute=1, burst=1, clock=FakeClock())
    assert buckets.take("client:c-1") is None
    assert buckets.take("client:c-1") is not None
    assert buckets.take("client:c-2") is None


def test_past_max_keys_the_least_recently_used_bucket_is_dropped() -> None:
    buckets = TokenBuckets(per_minute=1, burst=1, clock=FakeClock(), max_keys=2)
    buckets.take("a")
    buckets.take("b")
    buckets.take("a")  # a is used again: b is now the least recent
    buckets.take("c")
    assert len(buckets) == 2
    assert buckets.take("a") is not None  # kept, still empty
    assert buckets.take("b") is None  # dropped, so it starts full again


def test_an_ipv6_client_is_limited_by_its_64_and_a_mapped_ipv4_as_ipv4() -> None:
    def scope(host: str) -> dict[str, Any]:
        return {"client": (host, 5000)}

    assert address_of(scope("2001:db8:1:2:aaaa::1")) == address_of(scope("2001:db8:1:2:bbbb::9"))
    assert address_of(scope("2001:db8:1:2::1")) != address_of(scope("2001:db8:1:3::1"))
    assert address_of(scope("::ffff:192.0.2.7")) == "192.0.2.7"
    assert address_of({"client": None}) == "unknown"


# ------------------------------------------------------------------ the settings


def test_limits_are_read_under_the_service_prefix_and_a_rate_of_zero_is_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROBE_RATE_LIMIT_PER_MINUTE", "0")
    monkeypatch.setenv("PROBE_RATE_LIMIT_PER_ADDRESS_BURST", "9")
    monkeypatch.setenv("PROBE_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")
    monkeypatch.setenv("RATE_LIMIT_PER_ADDRESS_PER_MINUTE", "1")  # another service's, unprefixed: ignored
    limits = RateLimits.of_service(ProbeSettings())
    assert limits.rate_limit_per_minute == 0
    assert limits.rate_limit_per_address_burst == 9
    assert limits.rate_limit_per_address_per_minute == 3000  # the default
    assert limits.trusted_proxies == ["10.0.0.0/8", "192.0.2.1"]


@pytest.mark.parametrize("entry", ["*", "proxy.internal", "10.0.0.0/33"])
def test_a_trusted_proxy_must_be_an_address_or_network(entry: str) -> None:
    with pytest.raises(ValidationError, match="not an IP address or network"):
        RateLimits(trusted_proxies=[entry])


# ------------------------------------------------------------------ the service app

AUTH = AuthSettings(secret=SecretStr("a-test-secret-that-is-long-enough-for-hs256"))

router = APIRouter()


@router.get("/me")
async def me(who: Caller) -> dict[str, str]:
    return {"subject": who.subject}


@router.get("/open")
async def open_route() -> dict[str, str]:
    return {"status": "ok"}


def service_app(limits: RateLimits) -> FastAPI:
    """A service app as `create_service_app` builds it, around a runtime that is never started."""
    runtime = ServiceRuntime(ProbeSettings(auth=AUTH))
    return create_service_app(runtime, [router], title="Carepath limits probe", rate_limits=limits)


@asynccontextmanager
async def calling(app: FastAPI, address: str = "192.0.2.10") -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of `app` whose requests come from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
        yield http


def only_per_principal(burst: int) -> RateLimits:
    return RateLimits(rate_limit_per_minute=1, rate_limit_burst=burst, rate_limit_per_address_per_minute=0)


def only_per_address(burst: int, **more: Any) -> RateLimits:
    return RateLimits(
        rate_limit_per_minute=0,
        rate_limit_per_address_per_minute=1,
        rate_limit_per_address_burst=burst,
        **more,
    )


async def test_a_principal_over_its_limit_gets_429_problem_json_with_retry_after() -> None:
    alice = bearer("client-1", Role.client, AUTH)
    async with calling(service_app(only_per_principal(burst=2))) as http:
        assert [(await http.get("/v1/me", headers=alice)).status_code for _ in range(2)] == [200, 200]
        refused = await http.get("/v1/me", headers=alice)

    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "60"  # one request a minute: the next token in 60 s
    problem = refused.json()
    assert problem["status"] == 429 and problem["title"] == "Too Many Requests"
    assert problem["type"] == "https://carepath.dev/problems/rate-limited"
    assert problem["limit"] == "principal" and problem["instance"] == "/v1/me"


async def test_another_principal_still_passes_when_one_is_limited() -> None:
    alice, bob = bearer("client-1", Role.client, AUTH), bearer("client-2", Role.client, AUTH)
    same_subject_other_role = bearer("client-1", Role.clinician, AUTH)
    async with calling(service_app(only_per_principal(burst=1))) as http:
        assert (await http.get("/v1/me", headers=alice)).status_code == 200
        assert (await http.get("/v1/me", headers=alice)).status_code == 429
        assert (await http.get("/v1/me", headers=bob)).status_code == 200
        assert (await http.get("/v1/me", headers=same_subject_other_role)).status_code == 200


async def test_a_token_the_limiter_verified_is_not_checked_again_by_the_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks: list[str] = []
    real = rate_limits.authenticate_without_blocking

    async def counted(credentials: Any, auth: AuthSettings) -> Any:
        checks.append("checked")
        return await real(credentials, auth)

    monkeypatch.setattr(rate_limits, "authenticate_without_blocking", counted)
    monkeypatch.setattr(dependencies, "authenticate_without_blocking", counted)
    async with calling(service_app(only_per_principal(burst=5))) as http:
        answer = await http.get("/v1/me", headers=bearer("client-1", Role.client, AUTH))
    assert (answer.status_code, answer.json()) == (200, {"subject": "client-1"})
    assert checks == ["checked"]


async def test_a_fresh_token_of_the_same_principal_shares_its_limit() -> None:
    first = bearer("client-1", Role.client, AUTH)
    fresh = bearer("client-1", Role.client, AUTH, ttl=timedelta(hours=1))
    assert fresh != first
    async with calling(service_app(only_per_principal(burst=1))) as http:
        assert (await http.get("/v1/me", headers=first)).status_code == 200
        assert (await http.get("/v1/me", headers=fresh)).status_code == 429


async def test_a_forged_token_naming_a_principal_spends_nothing_of_theirs() -> None:
    forger = AuthSettings(secret=SecretStr("not-the-service-secret-but-just-as-long-as-it"))
    async with calling(service_app(only_per_principal(burst=1))) as http:
        for _ in range(3):
            forged = await http.get("/v1/me", headers=bearer("client-1", Role.client, forger))
            assert forged.status_code == 401  # the route refuses it; no principal was charged
        assert (await http.get("/v1/me", headers=bearer("client-1", Role.client, AUTH))).status_code == 200


async def test_an_address_over_its_limit_gets_429_whoever_calls_while_other_addresses_pass() -> None:
    app = service_app(only_per_address(burst=2))
    async with calling(app, "192.0.2.10") as http:
        assert (await http.get("/v1/open")).status_code == 200
        assert (await http.get("/v1/me", headers=bearer("client-1", Role.client, AUTH))).status_code == 200
        refused = await http.get("/v1/me", headers=bearer("client-2", Role.client, AUTH))
        assert refused.status_code == 429 and refused.json()["limit"] == "address"
        assert refused.headers["retry-after"] == "60"
        # Probes are never refused, however busy the address.
        assert (await http.get("/healthz")).status_code == 200
    async with calling(app, "192.0.2.11") as http:
        assert (await http.get("/v1/open")).status_code == 200


async def test_x_forwarded_for_names_the_client_only_when_a_trusted_proxy_sends_it() -> None:
    # An untrusted peer: the header is ignored, so rotating it buys no fresh bucket.
    async with calling(service_app(only_per_address(burst=1)), "198.51.100.7") as http:
        assert (await http.get("/v1/open", headers={"X-Forwarded-For": "203.0.113.1"})).status_code == 200
        assert (await http.get("/v1/open", headers={"X-Forwarded-For": "203.0.113.2"})).status_code == 429
    # The ingress, trusted: each client it forwards has a bucket of its own.
    behind_ingress = service_app(only_per_address(burst=1, trusted_proxies=["10.0.0.0/8"]))
    async with calling(behind_ingress, "10.1.2.3") as http:
        assert (await http.get("/v1/open", headers={"X-Forwarded-For": "203.0.113.1"})).status_code == 200
        assert (await http.get("/v1/open", headers={"X-Forwarded-For": "203.0.113.2"})).status_code == 200
        assert (await http.get("/v1/open", headers={"X-Forwarded-For": "203.0.113.1"})).status_code == 429


async def test_the_api_port_serves_no_metrics() -> None:
    async with calling(service_app(RateLimits())) as http:
        answer = await http.get("/metrics")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
