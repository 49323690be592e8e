"""`python -m services.matching`: serve matching on `MATCHING_HTTP_PORT`."""

from services.matching.app import build_app
from services.matching.settings import MatchingSettings
from shared.http.server import serve
from shared.settings import load_or_exit

settings = load_or_exit(MatchingSettings)
serve(build_app(settings), settings)
