"""`make token`: mint a local bearer token signed with `JWT_SECRET`.

python -m shared.http.mint_token --role clinician --subject therapist-42 --hours 8
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from shared.http.auth import Role, TokenError, mint_token
from shared.settings import AuthSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=[r.value for r in Role], default=Role.admin.value)
    parser.add_argument("--subject", default="local-admin", help="client_id, therapist_id or service name")
    parser.add_argument("--hours", type=float, default=12.0)
    args = parser.parse_args(argv)
    try:
        token = mint_token(
            AuthSettings(), subject=args.subject, role=Role(args.role), ttl=timedelta(hours=args.hours)
        )
    except TokenError as exc:
        print(f"make token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
