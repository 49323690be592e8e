"""Bearer JWTs with the roles of DESIGN §7: client, clinician, admin, service.

A token's `sub` is the caller's id: a client's own `client_id`, a clinician's
`therapist_id`, a service's name. `role` says which of the four it is; a service's token
also carries `scope` (`shared/http/scopes.py`): a service may do what its scopes name and
nothing else, while an admin holds every scope. Checking that a clinician sees only their
own clients needs the service's data, so services call `Principal.may_act_for_client` /
`may_act_for_therapist` (naming the scope a service would need) with what they know.

Tokens are checked against the identity provider's published keys (`JWT_JWKS_URL`, chosen
by the token's `kid`: shared/security/identity_provider.py), a public key, or locally an
HS256 secret (`make token`).

Routes get the caller and role checks from `shared.http.dependencies`; this module holds
the token rules and the 401/403 answers those dependencies give.
"""

import asyncio
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.http.problems import Problem
from shared.http.scopes import parse_scopes
from shared.security.identity_provider import IdentityProviderKeys, KeysUnavailable, keys_at
from shared.settings import AuthSettings


class Role(StrEnum):
    client = "client"
    clinician = "clinician"
    admin = "admin"
    service = "service"


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    role: Role
    scopes: frozenset[str] = frozenset()
    """A service's scopes (`shared.http.scopes`), from the token's `scope` claim; empty for people."""

    def holds(self, scope: str) -> bool:
        """Admins hold every scope, a service the scopes of its token, a person none."""
        return self.role is Role.admin or (self.role is Role.service and scope in self.scopes)

    def may_act_for_client(
        self, client_id: str, scope: str, *, treating_therapist_ids: Iterable[str] = ()
    ) -> bool:
        """The client themself, an admin, a service holding `scope`, or a treating clinician."""
        if self.holds(scope):
            return True
        if self.role is Role.client:
            return self.subject == client_id
        return self.role is Role.clinician and self.subject in set(treating_therapist_ids)

    def may_act_for_therapist(self, therapist_id: str, scope: str) -> bool:
        """The therapist themself, an admin, or a service holding `scope`."""
        return self.holds(scope) or (self.role is Role.clinician and self.subject == therapist_id)


class TokenError(Exception):
    """Why a token was refused; the message is safe to return to the caller."""


def _verification_key(token: str, settings: AuthSettings) -> str | jwt.PyJWK:
    if (provider := _provider_keys(settings)) is not None:
        key = provider.signing_key(_key_id(token))
        if key is None:
            raise TokenError("token is signed with a key the identity provider does not publish")
        return key
    if settings.algorithm == "HS256":
        if settings.secret is None:
            raise TokenError("server has no JWT_SECRET configured")
        return settings.secret.get_secret_value()
    if not settings.public_key:
        raise TokenError("server has no JWT_PUBLIC_KEY configured")
    return settings.public_key


def _provider_keys(settings: AuthSettings) -> IdentityProviderKeys | None:
    """The key cache of `JWT_JWKS_URL`, or None when tokens are checked against a configured key."""
    if not settings.jwks_url:
        return None
    return keys_at(
        settings.jwks_url,
        cache_seconds=settings.jwks_cache_seconds,
        refetch_seconds=settings.jwks_refetch_seconds,
        timeout_seconds=settings.jwks_timeout_seconds,
    )


def _key_id(token: str) -> str:
    """The `kid` of the token's (not yet verified) header: which published key to check it with."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as exc:
        raise TokenError(f"token is invalid: {exc}") from exc
    if not isinstance(kid, str) or not kid:
        raise TokenError("token names no signing key (kid)")
    return kid


def verify_token(token: str, settings: AuthSettings) -> Principal:
    """Check signature, expiry, issuer and audience; return who is calling.

    Raises `KeysUnavailable` when the identity provider's keys were never fetched.
    """
    try:
        claims = jwt.decode(
            token,
            _verification_key(token, settings),
            # Pinned: a token cannot choose HS256 and pass a public key off as its secret.
            algorithms=[settings.algorithm],
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=settings.leeway_seconds,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token has expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenError("token signature is invalid") from exc
    except jwt.PyJWTError as exc:
        raise TokenError(f"token is invalid: {exc}") from exc
    try:
        role = Role(str(claims.get("role")))
    except ValueError as exc:
        raise TokenError("token has no valid role claim") from exc
    scopes = parse_scopes(claims.get("scope")) if role is Role.service else frozenset()
    return Principal(subject=str(claims["sub"]), role=role, scopes=scopes)


def mint_token(
    settings: AuthSettings,
    *,
    subject: str,
    role: Role,
    ttl: timedelta = timedelta(hours=12),
    now: datetime | None = None,
    scopes: Iterable[str] = (),
) -> str:
    """Sign a token with the local HS256 secret (development, tests, `make token`).

    `scopes` go into the `scope` claim (space-separated) of a service's token.
    """
    if settings.jwks_url or settings.algorithm != "HS256":
        raise TokenError(
            "services verify tokens of the identity provider (JWT_JWKS_URL or JWT_ALGORITHM is set): "
            "a locally signed one would be refused"
        )
    if settings.secret is None:
        raise TokenError("JWT_SECRET is not set; cannot mint a token")
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "role": role.value,
        "iss": settings.issuer,
        "aud": settings.audience,
        "iat": issued,
        "exp": issued + ttl,
    }
    if scopes := sorted(set(scopes)):
        claims["scope"] = " ".join(scopes)
    return jwt.encode(claims, settings.secret.get_secret_value(), algorithm="HS256")


# Declared once so OpenAPI shows one bearer scheme; `auto_error=False` lets a missing
# token become our 401 problem+json rather than FastAPI's plain 403.
bearer_scheme = HTTPBearer(auto_error=False)


def authenticate(credentials: HTTPAuthorizationCredentials | None, settings: AuthSettings) -> Principal:
    """The caller behind a bearer token, or 401 problem+json saying why not.

    503 when the identity provider's keys could never be fetched: the token may be fine.
    """
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(401, "Unauthorized", "a bearer token is required", headers=challenge)
    try:
        return verify_token(credentials.credentials, settings)
    except TokenError as exc:
        raise Problem(401, "Unauthorized", str(exc), headers=challenge) from exc
    except KeysUnavailable as exc:
        retry = {"Retry-After": str(max(1, round(settings.jwks_refetch_seconds)))}
        raise Problem(503, "Service Unavailable", str(exc), headers=retry) from exc


async def authenticate_without_blocking(
    credentials: HTTPAuthorizationCredentials | None, settings: AuthSettings
) -> Principal:
    """`authenticate`, with a due JWKS fetch run on a worker thread.

    The event loop also serves consumers and timers: it must not wait on the identity
    provider (up to `JWT_JWKS_TIMEOUT_SECONDS`). Cached keys are checked inline.
    """
    provider = _provider_keys(settings)
    if provider is not None and credentials is not None and _fetch_due(provider, credentials.credentials):
        return await asyncio.to_thread(authenticate, credentials, settings)
    return authenticate(credentials, settings)


def _fetch_due(provider: IdentityProviderKeys, token: str) -> bool:
    try:
        return provider.fetch_due(_key_id(token))
    except TokenError:
        return False  # refused inline, without a fetch


def ensure_role(who: Principal, roles: Collection[Role]) -> Principal:
    """`who` if their role is one of `roles`, else 403 problem+json naming their role."""
    if who.role not in roles:
        allowed = ", ".join(role.value for role in roles)
        raise Problem(403, "Forbidden", f"role {who.role.value!r} may not do this (allowed: {allowed})")
    return who


def ensure_scope(who: Principal, scope: str) -> Principal:
    """`who`, unless a service whose token lacks `scope`: then 403 problem+json naming it.

    People are not judged here (their access follows their record and relationships); a
    service is a known backend, so naming the scope it lacks reveals nothing about a client.
    """
    if who.role is Role.service and scope not in who.scopes:
        raise Problem(403, "Forbidden", f"this service's token lacks the scope {scope!r}", scope=scope)
    return who
