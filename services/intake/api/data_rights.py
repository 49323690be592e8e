"""Admin routes of the client's data rights: export everything held, and erasure (`shared/data_rights.py`).

What this service holds and keeps is `store/client_data.py`'s to say; `app.py` wires it.
"""

from __future__ import annotations

from shared.data_rights import router

__all__ = ["router"]
