"""Writer fixtures: a migrated database of its own on the session's chDB folder."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from exos_common.schema import migrate
from exos_common.settings import StoreSettings
from exos_common.store import Store, open_store


@pytest.fixture
def store(chdb_path: Path) -> Iterator[Store]:
    settings = StoreSettings(
        clickhouse_url=f"chdb://{chdb_path}", clickhouse_database=f"w_{uuid.uuid4().hex[:10]}"
    )
    instance = open_store(settings, create_database=True)
    migrate(instance, settings, dedup_window=1000)
    yield instance
    instance.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    instance.close()
