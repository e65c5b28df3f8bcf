"""A module-scoped database holding the hand-built sessions of `fixtures`, and a client
of the replay app on it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from exos_common.store import Store
from exos_common.testing.stores import open_migrated_store
from exos_replay.app import create_app

sys.path.insert(0, str(Path(__file__).parent))

import replay_fixtures as fixtures


@pytest.fixture(scope="module")
def fixture_store(chdb_path: Path) -> Iterator[Store]:
    store, settings = open_migrated_store(chdb_path, "replay")
    for rows in (
        fixtures.reference_session(),
        fixtures.no_recording_session(),
        fixtures.broken_session(),
    ):
        rows.write(store)
    yield store
    store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    store.close()


@pytest.fixture(scope="module")
def client(fixture_store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store=fixture_store)) as test_client:
        yield test_client
