"""MongoDB plumbing on the common subset (DESIGN §5): client, outbox, inbox, durable timers."""

from typing import Any

Document = dict[str, Any]
"""A MongoDB document as PyMongo reads and writes it; the one alias every store uses."""
