"""Run the scheduling service: `python -m services.scheduling` (port from `SCHEDULING_HTTP_PORT`)."""

from services.scheduling.app import build_app
from services.scheduling.settings import SchedulingSettings
from shared.http.server import serve

if __name__ == "__main__":
    settings = SchedulingSettings()
    serve(build_app(settings), settings)
