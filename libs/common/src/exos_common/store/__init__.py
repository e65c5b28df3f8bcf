"""The store port: one ClickHouse client (clickhouse-connect) over HTTP or chDB."""

from __future__ import annotations

from clickhouse_connect.driver.binding import quote_identifier

from exos_common.settings import ClickHouseSettings
from exos_common.store.client import (
    Store,
    StoreDataError,
    StoreError,
    StoreUnavailable,
    Target,
    create_client,
    parse_error,
)

__all__ = [
    "Store",
    "StoreDataError",
    "StoreError",
    "StoreUnavailable",
    "Target",
    "create_client",
    "open_store",
    "parse_error",
]


def open_store(settings: ClickHouseSettings, *, create_database: bool = False) -> Store:
    """A Store on the configured database; `create_database` makes it first if missing
    (what `exos migrate` does; services expect it to exist)."""
    if create_database and settings.clickhouse_database != "default":
        bootstrap = Store(create_client(settings))
        try:
            name = quote_identifier(settings.clickhouse_database)
            bootstrap.command(f"CREATE DATABASE IF NOT EXISTS {name}")
        finally:
            bootstrap.close()
    return Store.from_settings(settings)
