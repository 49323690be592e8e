"""`python -m services.matching`: serve matching on `MATCHING_HTTP_PORT`."""

from services.matching.app import build_app
from services.matching.settings import MatchingSettings
from shared.http.server import serve

settings = MatchingSettings()
serve(build_app(settings), settings)
