"""`python -m services.notifications`: serve the API, consumers and timers on `NOTIFICATIONS_HTTP_PORT`."""

from __future__ import annotations

from services.notifications.app import build_app
from services.notifications.settings import NotificationsSettings
from shared.http.server import serve
from shared.settings import load_or_exit

if __name__ == "__main__":
    settings = load_or_exit(NotificationsSettings)
    serve(build_app(settings), settings)
