"""MongoDB plumbing on the common subset (DESIGN §5): client, outbox, inbox, durable timers."""

from typing import Any

Document = dict[str, Any]
"""A MongoDB document as PyMongo reads and writes it; the one alias every store uses."""


class AlreadyExists(Exception):
    """A document with this `_id` exists already: the kit's word for a unique-key refusal.

    `DocumentStore.insert` (and the in-memory fake) raise it instead of the driver's
    `DuplicateKeyError`, so no service code depends on PyMongo's errors; a unique insert is
    how services claim things (a slot, a version number, a delivery), so they catch it.
    """
