"""Run the scheduling service: `python -m services.scheduling` (port from `SCHEDULING_HTTP_PORT`)."""

from services.scheduling.app import build_app
from services.scheduling.settings import SchedulingSettings
from shared.http.server import serve
from shared.settings import load_or_exit

if __name__ == "__main__":
    settings = load_or_exit(SchedulingSettings)
    serve(build_app(settings), settings)
