"""A replica that takes a document's lease and keeps it, alive, until it is killed.

Run as `python -m tests.support.lease_holder <mongodb-uri> <database> <resource>`. It
heartbeats and takes the lease exactly as a `ServiceRuntime` does (`Liveness`, `Locks`),
prints `held`, and then waits forever with its heartbeat running, so only a kill ends it.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from pymongo import AsyncMongoClient

from shared.runtime import instance_id
from shared.storage import Document
from shared.storage.liveness import Liveness
from shared.storage.locks import Locks


async def hold(uri: str, database: str, resource: str) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True)
    db = client[database]
    liveness = Liveness(db["replicas"], instance=instance_id("lease-holder"))
    await liveness.beat()
    heartbeat = asyncio.create_task(liveness.run())
    await Locks(db["locks"], liveness=liveness).acquire(resource, liveness.instance, timedelta(seconds=60))
    print("held", flush=True)
    await heartbeat


if __name__ == "__main__":
    asyncio.run(hold(*sys.argv[1:4]))
