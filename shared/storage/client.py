"""PyMongo's `AsyncMongoClient`, the official successor of motor (end of life 2026-05-14)."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient

from shared.settings import MongoSettings


def connect_mongo(settings: MongoSettings, *, app_name: str) -> AsyncMongoClient[dict[str, Any]]:
    """A client with timezone-aware datetimes (UTC) and the configured TLS options.

    The client connects lazily; `ping_mongo` is what `/readyz` uses to prove it can.
    """
    return AsyncMongoClient(settings.uri.get_secret_value(), appname=app_name, **settings.client_options())


async def ping_mongo(client: AsyncMongoClient[dict[str, Any]]) -> None:
    await client.admin.command("ping")
