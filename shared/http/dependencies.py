"""What every route may ask for: the caller, a role or scope check, an audited read, the cipher.

Routers stay plain module-level `APIRouter`s: nothing here needs settings at import
time. Each dependency reads the service's `ServiceRuntime` from `request.app.state`
(put there by `create_service_app`) when a request arrives, so a router module imports
the same way in the app and in a unit test with a stand-in runtime.

    @router.get("/intakes/{intake_id}")
    async def read_intake(intake_id: str, who: Caller, audit: Audit, rt: Runtime) -> Intake:
        ...  # check who may see it, load it, then:
        await audit.read(resource="intake", resource_id=intake_id, client_id=client_id)

Every dependency is a module-level function or a value built from one, so the aliases
work in modules with `from __future__ import annotations` too: FastAPI resolves the
string annotation against the route module's globals, where the alias is imported. (A
dependency built in a local variable cannot be found that way and would silently
become a query parameter.)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials

from shared.http.auth import (
    Principal,
    Role,
    authenticate_without_blocking,
    bearer_scheme,
    ensure_role,
    ensure_scope,
)
from shared.http.rate_limits import VERIFIED_PRINCIPAL
from shared.observability.audit import Access
from shared.observability.logs import get_logger
from shared.ports import AuditTrail
from shared.runtime import ServiceRuntime
from shared.security.field_encryption import FieldCipher

CORRELATION_HEADER = "X-Correlation-ID"
REQUEST_ID_HEADER = "X-Request-ID"

log = get_logger(__name__)


# Dependencies are `async def` so FastAPI calls them inline, not on its thread pool.
def _runtime_of(request: Request) -> ServiceRuntime:
    found: ServiceRuntime | None = getattr(request.app.state, "runtime", None)
    if found is None:
        raise RuntimeError("app.state.runtime is not set; build the app with create_service_app")
    return found


async def runtime(request: Request) -> ServiceRuntime:
    """The service's runtime, for routes that need its stores."""
    return _runtime_of(request)


Runtime = Annotated[ServiceRuntime, Depends(runtime)]


async def service_context(request: Request) -> Any:
    """The service's context (stores, timers, clock, settings), built once by its `app.py`.

    Each service names it with its own type, the one way its routes reach it:
    `Context = Annotated[IntakeContext, Depends(service_context)]`.
    """
    found = getattr(request.app.state, "context", None)
    if found is None:
        raise RuntimeError("app.state.context is not set; pass context= to create_service_app")
    return found


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The authenticated caller, or 401 problem+json (missing, forged or expired token).

    The rate limiter has usually verified this very token already (it keys its limit by the
    caller); its verdict is reused rather than the signature checked twice per request.
    """
    verified = getattr(request.state, VERIFIED_PRINCIPAL, None)
    if isinstance(verified, Principal):
        return verified
    return await authenticate_without_blocking(credentials, _runtime_of(request).settings.auth)


Caller = Annotated[Principal, Depends(caller)]


@cache  # one dependency per role set, so FastAPI checks it once per request
def requires(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency returning the caller if their role is one of `roles`, else 403."""

    async def allowed_caller(who: Caller) -> Principal:
        return ensure_role(who, roles)

    return allowed_caller


@cache
def requires_scope(scope: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency returning the caller if an admin or a service holding `scope`, else 403.

    For routes no person may call (`shared.http.scopes` names what each scope allows).
    """

    async def scoped_caller(who: Caller) -> Principal:
        return ensure_scope(ensure_role(who, (Role.admin, Role.service)), scope)

    return scoped_caller


Admin = Annotated[Principal, Depends(requires(Role.admin))]


async def correlation_id(request: Request) -> str:
    """The journey this request belongs to: `X-Correlation-ID`, else its request id.

    Without either header the request gets a fresh id, kept for the whole request.
    """
    return _correlation_id_of(request)


CorrelationId = Annotated[str, Depends(correlation_id)]


def _correlation_id_of(request: Request) -> str:
    """The caller's id when it is a UUID (in canonical form), else a fresh one, once per request.

    The id travels into events, audit records and logs, so it must be an id: anything else
    (a name, a payload, a forged value meant to join someone else's journey by text) is
    replaced, and the replacement is logged without what was sent.
    """
    assigned: str | None = getattr(request.state, "correlation_id", None)
    if assigned is not None:
        return assigned
    given = request.headers.get(CORRELATION_HEADER) or request.headers.get(REQUEST_ID_HEADER)
    assigned = _as_uuid(given) if given else None
    if assigned is None:
        assigned = str(uuid.uuid4())
        if given:
            log.warning("correlation id is not a UUID; replaced", correlation_id=assigned)
    request.state.correlation_id = assigned
    return assigned


def _as_uuid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class AuditedRead:
    """Records a read of clinical data (DESIGN §8): who, what, when, which journey; never the data."""

    who: Principal
    correlation_id: str
    log: AuditTrail

    async def read(
        self, *, resource: str, resource_id: str, client_id: str | None = None, basis: str | None = None
    ) -> None:
        """Call before returning the data; if recording fails the read fails, so none goes unaudited."""
        await self._record("read", resource, resource_id, client_id, basis)

    async def refused(
        self, *, resource: str, resource_id: str, client_id: str | None = None, basis: str | None = None
    ) -> None:
        """Record an attempt the caller's relationship to the client did not allow."""
        await self._record("refused", resource, resource_id, client_id, basis)

    async def _record(
        self, action: str, resource: str, resource_id: str, client_id: str | None, basis: str | None
    ) -> None:
        await self.log.record(
            Access(
                actor=self.who.subject,
                role=self.who.role.value,
                action=action,
                resource=resource,
                resource_id=resource_id,
                client_id=client_id,
                correlation_id=self.correlation_id,
                basis=basis,
            )
        )


async def audited_read(request: Request, who: Caller) -> AuditedRead:
    """An `AuditedRead` for this caller and request."""
    return AuditedRead(who=who, correlation_id=_correlation_id_of(request), log=_runtime_of(request).audit)


Audit = Annotated[AuditedRead, Depends(audited_read)]


async def field_cipher(request: Request) -> FieldCipher:
    """The service's field cipher; the runtime refuses clearly when no keys are configured."""
    return _runtime_of(request).cipher


Cipher = Annotated[FieldCipher, Depends(field_cipher)]
