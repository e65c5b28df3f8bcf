"""Store fixtures: every test runs on chDB in-process and on the embedded ClickHouse
server over HTTP, each time in a database of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from exos_common.settings import StoreSettings
from exos_common.store import Store, open_store


@pytest.fixture(
    params=[
        pytest.param("chdb", id="chdb"),
        pytest.param("http", id="http", marks=pytest.mark.clickhouse_server),
    ]
)
def store_settings(request: pytest.FixtureRequest, chdb_path: Path) -> StoreSettings:
    if request.param == "http":
        url = request.getfixturevalue("clickhouse_server").url
    else:
        url = f"chdb://{chdb_path}"
    return StoreSettings(
        clickhouse_url=url, clickhouse_database=f"contract_{uuid.uuid4().hex[:10]}"
    )


@pytest.fixture
def store(store_settings: StoreSettings) -> Iterator[Store]:
    instance = open_store(store_settings, create_database=True)
    yield instance
    instance.command(f"DROP DATABASE IF EXISTS {store_settings.clickhouse_database}")
    instance.close()
