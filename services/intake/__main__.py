"""`python -m services.intake`: serve the intake API and its consumers on `INTAKE_HTTP_PORT`."""

from __future__ import annotations

import sys

from services.intake.app import build_app
from services.intake.settings import IntakeSettings
from shared.http.server import serve
from shared.settings import load_or_exit


def main() -> int:
    # Refused, in one line, e.g. in production with a published secret, or for a country
    # without crisis resources.
    settings = load_or_exit(IntakeSettings)
    app = build_app(settings)
    try:
        app.state.runtime.cipher  # noqa: B018 - refuse to start without keys, not on the first request
    except RuntimeError as error:
        print(f"intake cannot start: {error}", file=sys.stderr)
        return 2
    serve(app, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
