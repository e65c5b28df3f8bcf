"""Fixtures of the insights tests: a store with the hand-built world (module scope,
its own database on the session's chDB folder), and the local model server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from exos_common.store import Store
from exos_common.testing.fake_llm import FakeLLM
from exos_common.testing.stores import open_migrated_store

sys.path.insert(0, str(Path(__file__).parent))
from insights_world import build


@pytest.fixture(scope="module")
def world_store(chdb_path: Path) -> Iterator[Store]:
    store, settings = open_migrated_store(chdb_path, "insights")
    build(store)
    yield store
    store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    store.close()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM() as llm:
        yield llm
