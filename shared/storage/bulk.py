"""Many unique inserts in one round trip, where an `_id` that exists is an answer, not an error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000


async def insert_new(collection: AsyncCollection[Any], documents: Sequence[Mapping[str, Any]]) -> set[int]:
    """Insert `documents` (`ordered=False`: each is its own unique insert, a claim); return the
    positions of those whose `_id` existed. Any other failure raises."""
    if not documents:
        return set()
    try:
        await collection.insert_many([dict(d) for d in documents], ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if not errors or any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        return {int(error["index"]) for error in errors}
    return set()
