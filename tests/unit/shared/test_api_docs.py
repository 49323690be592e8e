"""Each service's committed OpenAPI and AsyncAPI documents match its code (`make docs`)."""

from __future__ import annotations

import pytest

from shared.http.api_docs import SERVICES_DIR, stale

SERVICES = sorted(path.parent.name for path in SERVICES_DIR.glob("*/app.py"))


@pytest.mark.parametrize("service", SERVICES)
def test_committed_api_documents_are_current(service: str) -> None:
    assert stale(service) == [], "run `make docs` and commit the result"
