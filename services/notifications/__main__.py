"""`python -m services.notifications`: serve the API, consumers and timers on `NOTIFICATIONS_HTTP_PORT`."""

from __future__ import annotations

import sys

from services.notifications.app import build_app
from services.notifications.settings import NotificationsSettings
from shared.http.server import serve
from shared.settings import load_or_exit


def main() -> int:
    settings = load_or_exit(NotificationsSettings)
    app = build_app(settings)
    try:
        app.state.runtime.cipher  # noqa: B018 - contact details are sealed: refuse to start without keys
    except RuntimeError as error:
        print(f"notifications cannot start: {error}", file=sys.stderr)
        return 2
    serve(app, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
