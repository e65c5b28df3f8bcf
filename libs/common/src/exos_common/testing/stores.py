"""pytest plugin: `migrated_store`, a database of its own on the session's chDB folder,
with every migration applied, dropped after the test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from exos_common.schema import migrate
from exos_common.settings import StoreSettings
from exos_common.store import Store, open_store


def open_migrated_store(chdb_path: Path, prefix: str = "t") -> tuple[Store, StoreSettings]:
    settings = StoreSettings(
        clickhouse_url=f"chdb://{chdb_path}",
        clickhouse_database=f"{prefix}_{uuid.uuid4().hex[:10]}",
    )
    store = open_store(settings, create_database=True)
    migrate(store, settings, dedup_window=1000)
    return store, settings


@pytest.fixture
def migrated_store(chdb_path: Path) -> Iterator[Store]:
    store, settings = open_migrated_store(chdb_path)
    yield store
    store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    store.close()
