"""A client's data rights across the four services: one export, one erasure.

    python -m deploy.data_rights export --client client-42 [--out export.json]
    python -m deploy.data_rights erase --client client-42 --reason "GDPR Art. 17, ticket DPO-7"

Calls each service's admin route (`/v1/admin/clients/{id}/export` or `.../erasure`) at
`CAREPATH_<SERVICE>_URL` (defaults: the local ports of `make run`, 8001-8004) with the
admin token in `CAREPATH_ADMIN_TOKEN`, or one minted from `JWT_SECRET` like `make token`
(development only: minting refuses in production). The export is one JSON document,
`{"client_id", "exported_at", "services": {<service>: <its export> | null}}` (null: that
service holds nothing); the erasure prints each service's report. Any other answer
stops the command with the service and status named (exit 1); an erasure is safe to run
again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from shared.http.auth import Role, mint_token
from shared.security.production import DeploymentSettings
from shared.settings import AuthSettings

SERVICES = {"intake": 8001, "matching": 8002, "scheduling": 8003, "notifications": 8004}
TIMEOUT_SECONDS = 30.0


class DataRightsError(Exception):
    """A service answered something other than the data or "nothing held"."""


def service_urls(env: Mapping[str, str]) -> dict[str, str]:
    """Each service's base URL: `CAREPATH_<SERVICE>_URL`, else its local port."""
    return {
        name: env.get(f"CAREPATH_{name.upper()}_URL", f"http://127.0.0.1:{port}").rstrip("/")
        for name, port in SERVICES.items()
    }


def admin_token(env: Mapping[str, str]) -> str:
    """`CAREPATH_ADMIN_TOKEN`, else an hour's admin token minted from `JWT_SECRET` (not in production)."""
    if given := env.get("CAREPATH_ADMIN_TOKEN"):
        return given
    if DeploymentSettings().env == "production":
        raise DataRightsError("set CAREPATH_ADMIN_TOKEN: tokens are not minted locally in production")
    return mint_token(AuthSettings(), subject="data-rights-cli", role=Role.admin, ttl=timedelta(hours=1))


def export_path(client_id: str) -> str:
    return f"/v1/admin/clients/{client_id}/export"


def erasure_path(client_id: str) -> str:
    return f"/v1/admin/clients/{client_id}/erasure"


def _answer(service: str, response: httpx.Response, *, none_on_404: bool) -> dict[str, Any] | None:
    if response.status_code == 404 and none_on_404:
        return None
    if response.status_code != 200:
        raise DataRightsError(f"{service} answered {response.status_code}: {response.text[:300]}")
    answer: dict[str, Any] = response.json()
    return answer


async def export_client(
    clients: Mapping[str, httpx.AsyncClient], client_id: str, token: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """Every service's export of the client, gathered into one document."""
    headers = {"Authorization": f"Bearer {token}"}
    responses = await asyncio.gather(
        *(http.get(export_path(client_id), headers=headers) for http in clients.values())
    )
    return {
        "client_id": client_id,
        "exported_at": (now or datetime.now(UTC)).isoformat(),
        "services": {
            service: _answer(service, response, none_on_404=True)
            for service, response in zip(clients, responses, strict=True)
        },
    }


async def erase_client(
    clients: Mapping[str, httpx.AsyncClient], client_id: str, reason: str, token: str
) -> dict[str, Any]:
    """Every service's erasure report (each service shreds, deletes and flags its own)."""
    headers = {"Authorization": f"Bearer {token}"}
    reports: dict[str, Any] = {}
    for service, http in clients.items():  # one at a time: a failure names where it stopped
        response = await http.post(erasure_path(client_id), json={"reason": reason}, headers=headers)
        reports[service] = _answer(service, response, none_on_404=False)
    return {"client_id": client_id, "services": reports}


async def _run(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, Any]:
    token = admin_token(env)
    urls = service_urls(env)
    clients = {name: httpx.AsyncClient(base_url=url, timeout=TIMEOUT_SECONDS) for name, url in urls.items()}
    try:
        if args.command == "export":
            return await export_client(clients, args.client, token)
        return await erase_client(clients, args.client, args.reason, token)
    finally:
        await asyncio.gather(*(http.aclose() for http in clients.values()))


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.data_rights", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="everything the four services hold about a client")
    export.add_argument("--client", required=True)
    export.add_argument("--out", type=Path, help="write the JSON here (default: standard output)")
    erase = commands.add_parser("erase", help="erase a client in every service (crypto-shredding)")
    erase.add_argument("--client", required=True)
    erase.add_argument("--reason", required=True, help="why (e.g. the request's ticket); kept as proof")
    args = parser.parse_args(argv)
    try:
        result = asyncio.run(_run(args, os.environ if env is None else env))
    except (DataRightsError, httpx.HTTPError) as error:
        print(f"data rights: {error}", file=sys.stderr)
        return 1
    text = json.dumps(result, indent=2, sort_keys=True)
    if getattr(args, "out", None):
        args.out.write_text(text + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
