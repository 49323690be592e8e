"""`make token`: mint a local bearer token signed with `JWT_SECRET`.

python -m shared.http.mint_token --role clinician --subject therapist-42 --hours 8
python -m shared.http.mint_token --role service --subject web --scope "intake:read recipients:write"

A service token carries the scopes named (`shared/http/scopes.py` lists them); one without
any may do nothing a scope guards.

Development only: with `CAREPATH_ENV=production` it refuses, since tokens there come from
the identity provider and a shared secret that mints admin tokens has no place on a server.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from shared.http.auth import Role, TokenError, mint_token
from shared.http.scopes import CATALOGUE
from shared.security.production import DeploymentSettings
from shared.settings import AuthSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=[r.value for r in Role], default=Role.admin.value)
    parser.add_argument("--subject", default="local-admin", help="client_id, therapist_id or service name")
    parser.add_argument("--hours", type=float, default=12.0)
    parser.add_argument(
        "--scope",
        action="append",
        default=[],
        help=f"a service's scopes, space-separated (repeatable): {', '.join(CATALOGUE)}",
    )
    args = parser.parse_args(argv)
    scopes = [scope for given in args.scope for scope in given.split()]
    if unknown := sorted(set(scopes) - set(CATALOGUE)):
        print(f"make token: unknown scope {', '.join(unknown)}", file=sys.stderr)
        return 2
    if scopes and args.role != Role.service.value:
        print("make token: only a service token carries scopes", file=sys.stderr)
        return 2
    if DeploymentSettings().env == "production":
        print("make token: CAREPATH_ENV=production; tokens come from the identity provider", file=sys.stderr)
        return 2
    try:
        token = mint_token(
            AuthSettings(),
            subject=args.subject,
            role=Role(args.role),
            ttl=timedelta(hours=args.hours),
            scopes=scopes,
        )
    except TokenError as exc:
        print(f"make token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
