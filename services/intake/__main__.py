"""`python -m services.intake`: serve the intake API and its consumers on `INTAKE_HTTP_PORT`."""

from __future__ import annotations

import sys

from pydantic import ValidationError

from services.intake.app import build_app
from services.intake.settings import IntakeSettings
from shared.http.server import serve


def main() -> int:
    try:
        settings = IntakeSettings()  # e.g. a served country without crisis resources
    except ValidationError as error:
        print(f"cannot start: {error}", file=sys.stderr)
        return 2
    app = build_app(settings)
    try:
        app.state.runtime.cipher  # noqa: B018 - refuse to start without keys, not on the first request
    except RuntimeError as error:
        print(f"cannot start: {error}", file=sys.stderr)
        return 2
    serve(app, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
