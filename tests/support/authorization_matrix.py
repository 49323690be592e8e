"""What the services' authorization matrices share: the callers, a route's row, the walk, the tally.

Each service's `test_authorization_matrix.py` writes one `Row` per route of its OpenAPI
document (method, template, what each caller gets, the scope a service needs) and lists
its public routes; `uncovered` fails the test when the document has a route the matrix
does not name (a new route is never unjudged) or the matrix names one the document lost.
`walk` sends every route to every caller in-process and collects each answer that differs
from the row; `MatrixTally` writes the size checked for the run's summary
(`tests/support/fault_results.py`), like the API fuzz's `FuzzTally`.

The callers are fixed: no token, a forged and an expired admin token (401 on every route
that is not public), the owner of the record the route addresses (its client, or the
therapist or recipient it names), another client, a clinician with no care relationship,
a `service` token without scopes (403 naming the scope the route needs), a `service`
token with exactly that scope (every scope of the catalogue when no scope opens the
route: then it must still be refused), and an admin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Literal

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from shared.http.auth import Role, mint_token
from shared.http.scopes import CATALOGUE
from shared.settings import AuthSettings
from tests.support.fault_results import write_result

PROBLEM_JSON: Final = "application/problem+json"

OK: Final = "ok"
"""Allowed: any answer but 401, 403 and 404 (and never a 5xx): the caller reached the route's work."""
NA: Final = "n/a"
"""The caller has no place in this row (a route that addresses nobody has no owner)."""

Expected = int | Literal["ok", "n/a"]
IdValue = str | Callable[[], Awaitable[str]]
"""A path id: a record that exists, or a maker of a fresh one per request (a revoke spends its record)."""
Body = Callable[[Mapping[str, str]], Any]
"""The JSON body of a route, from the seeded ids: valid, so a request reaches the access check."""


class Caller(StrEnum):
    anonymous = "no token"
    forged = "forged token"
    expired = "expired token"
    other_client = "another client"
    stranger = "clinician without care"
    unscoped = "service without scopes"
    owner = "owner"
    scoped = "service with the scope"
    admin = "admin"


CALLERS: Final = tuple(Caller)
"""In the order each route gets them: the refused ones first, so an allowed write changes nothing they see."""


@dataclass(frozen=True)
class Row:
    """One route and what each caller gets; no token, a forged or an expired one: 401."""

    method: str
    template: str
    owner: Expected
    other_client: Expected
    stranger: Expected
    unscoped: Expected
    scoped: Expected
    admin: Expected
    scope: str | None
    """What a service needs here; None when no scope opens the route."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.template)

    @property
    def owned_by(self) -> str:
        """Whose route it is (a key of `people`): the therapist or recipient it names, else the client."""
        for kind in ("therapist", "recipient"):
            if "{" + kind + "_id}" in self.template:
                return kind
        return "client"

    def expected(self, caller: Caller) -> Expected:
        if caller in (Caller.anonymous, Caller.forged, Caller.expired):
            return 401
        value: Expected = getattr(self, caller.name)
        return value


@dataclass(frozen=True)
class Public:
    """A route any caller may call, with a token or without (probes, a calendar feed by its secret URL)."""

    method: str
    template: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.template)

    def expected(self, caller: Caller) -> Expected:
        return OK


PROBES: Final = (Public("GET", "/healthz"), Public("GET", "/readyz"))
"""Every service's health and readiness probes: open to anyone."""


@dataclass(frozen=True)
class Person:
    subject: str
    role: Role


def routes_of(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path template) of `app`'s OpenAPI document."""
    return {(method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops}


def uncovered(app: FastAPI, rows: Iterable[Row | Public]) -> dict[str, list[str]]:
    """Routes of the document the matrix does not name, and rows naming routes it does not have."""
    documented, named = routes_of(app), [row.key for row in rows]
    duplicated = sorted({f"{m} {t}" for m, t in named if named.count((m, t)) > 1})
    return {
        "not in the matrix": sorted(f"{m} {t}" for m, t in documented - set(named)),
        "not in the document": sorted(f"{m} {t}" for m, t in set(named) - documented),
        "named twice": duplicated,
    }


def assert_the_matrix_names_every_route(app: FastAPI, rows: Iterable[Row | Public]) -> None:
    """A service's matrix held to its OpenAPI document: no route left out, none invented or twice."""
    assert uncovered(app, rows) == {
        "not in the matrix": [],
        "not in the document": [],
        "named twice": [],
    }


class Tokens:
    """The callers' bearer headers, signed with the service's test secret (or not, for the refused)."""

    def __init__(self, auth: AuthSettings, people: Mapping[str, Person], *, other_client: str, stranger: str):
        self._auth = auth
        self._people = people
        self._other_client = other_client
        self._stranger = stranger

    def _bearer(self, subject: str, role: Role, scopes: Iterable[str] = ()) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {mint_token(self._auth, subject=subject, role=role, scopes=scopes)}"
        }

    def headers(self, caller: Caller, row: Row | Public) -> dict[str, str]:
        match caller:
            case Caller.anonymous:
                return {}
            case Caller.forged:
                forger = AuthSettings(secret=SecretStr("a-secret-the-service-never-heard-of-" + "x" * 16))
                return {"Authorization": f"Bearer {mint_token(forger, subject='admin-1', role=Role.admin)}"}
            case Caller.expired:
                long_ago = datetime.now(UTC) - timedelta(days=2)
                token = mint_token(self._auth, subject="admin-1", role=Role.admin, now=long_ago)
                return {"Authorization": f"Bearer {token}"}
            case Caller.owner:
                person = self._people[row.owned_by if isinstance(row, Row) else "client"]
                return self._bearer(person.subject, person.role)
            case Caller.other_client:
                return self._bearer(self._other_client, Role.client)
            case Caller.stranger:
                return self._bearer(self._stranger, Role.clinician)
            case Caller.unscoped:
                return self._bearer("platform-web", Role.service)
            case Caller.scoped:
                scope = row.scope if isinstance(row, Row) else None
                return self._bearer("platform-web", Role.service, [scope] if scope else CATALOGUE)
            case Caller.admin:
                return self._bearer("admin-1", Role.admin)


@dataclass
class MatrixTally:
    """The checks one service's matrix made and the answers that differed from it."""

    service: str
    routes: int = 0
    checks: int = 0
    unexpected: list[str] = field(default_factory=list)

    def write(self) -> None:
        counts = {
            "routes": self.routes,
            "callers": len(CALLERS),
            "checks": self.checks,
            "unexpected": len(self.unexpected),
        }
        write_result(f"authorization-matrix-{self.service}", {"counts": counts})


async def _path_of(template: str, ids: Mapping[str, IdValue]) -> str:
    path = template
    while "{" in path:
        name = path[path.index("{") + 1 : path.index("}")]
        value = ids[name]
        path = path.replace("{" + name + "}", value if isinstance(value, str) else await value(), 1)
    return path


def _judged(caller: Caller, row: Row | Public, expected: Expected, answer: httpx.Response) -> str | None:
    """Why `answer` is not what the matrix says `caller` gets, or None when it is."""
    status = answer.status_code
    if status >= 500:
        return "a server error"
    if expected == OK:
        return "refused" if status in (401, 403, 404) else None
    if status != expected:
        return f"expected {expected}"
    if answer.headers.get("content-type") != PROBLEM_JSON:
        return "a refusal that is not problem+json"
    if caller is Caller.unscoped and isinstance(row, Row) and row.scope and row.scope not in answer.text:
        return f"a 403 that does not name the scope {row.scope!r}"
    return None


async def walk(
    http: httpx.AsyncClient,
    rows: Sequence[Row | Public],
    *,
    ids: Mapping[str, IdValue],
    bodies: Mapping[tuple[str, str], Body],
    tokens: Tokens,
    tally: MatrixTally,
    ids_for: Mapping[tuple[str, str], Mapping[str, IdValue]] | None = None,
) -> None:
    """Send every row's route to every caller, in order; note each answer the row did not expect.

    `ids_for` names other records for a route than `ids` does (a draft to save, not the submitted intake).
    """
    plain = {name: value for name, value in ids.items() if isinstance(value, str)}
    tally.routes = len(rows)
    for row in rows:
        body = bodies.get(row.key)
        path_ids = {**ids, **(ids_for or {}).get(row.key, {})}
        for caller in CALLERS:
            expected = row.expected(caller)
            if expected == NA:
                continue
            path = await _path_of(row.template, path_ids)
            json = body(plain) if body is not None else None
            answer = await http.request(row.method, path, json=json, headers=tokens.headers(caller, row))
            tally.checks += 1
            if (why := _judged(caller, row, expected, answer)) is not None:
                tally.unexpected.append(
                    f"{row.method} {row.template} as {caller.value}: {answer.status_code}, {why}: "
                    f"{answer.text[:300]}"
                )
