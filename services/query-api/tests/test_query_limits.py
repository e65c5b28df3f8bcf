"""Every query-api statement runs within EXOS_QUERY_* limits; one a limit stops answers
with the reason (real statements on chDB hitting each limit)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from exos_common.store import Store
from exos_common.testing.stores import open_migrated_store
from exos_query_api.app import create_app
from exos_query_api.settings import QueryApiSettings

sys.path.insert(0, str(Path(__file__).parent))

import analytics_world as world


@pytest.fixture(scope="module")
def loaded(chdb_path: Path) -> Iterator[Store]:
    store, settings = open_migrated_store(chdb_path, "limits")
    world.load(store)
    yield store
    store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    store.close()


def stats(store: Store, path: str = "/api/stats", **limits: float) -> tuple[int, dict[str, object]]:
    settings = QueryApiSettings.model_validate(limits)
    with TestClient(create_app(settings, store=store)) as client:
        response = client.get(path, params=world.RANGE)
    return response.status_code, response.json()


def test_within_the_defaults_the_answer_is_unchanged(loaded: Store) -> None:
    status, body = stats(loaded)
    assert status == 200
    tables = {t["table"]: t for t in body["tables"]}  # type: ignore[attr-defined]
    assert tables["otel_traces"]["rows"] == 34


def test_reading_more_rows_than_allowed_is_a_422_with_the_reason(loaded: Store) -> None:
    # The world has 34 spans: reading otel_traces alone is more than 10 rows.
    status, body = stats(loaded, query_max_rows_to_read=10)
    assert status == 422
    message = body["error"]["message"]  # type: ignore[index]
    assert message.startswith("query limit exceeded: rows read (EXOS_QUERY_MAX_ROWS_TO_READ): ")
    assert "max_rows_to_read" in message or "rows" in message


def test_using_more_memory_than_allowed_is_a_503_with_the_reason(loaded: Store) -> None:
    # Four 4 MB error messages: grouping them takes well over 1 MiB in one thread (a
    # thread's first 4 MiB are not counted against the query until they add up).
    big = world.World()
    for second in range(4):
        big.log("S1", 30 + second, "error", f"failure {second} " + "x" * 4_000_000)
    loaded.insert("otel_logs", big.logs, world.LOG_COLUMNS)
    errors = "/api/site-health/console-errors"
    assert stats(loaded, errors)[0] == 200
    status, body = stats(loaded, errors, query_max_memory_usage=1024**2)
    assert status == 503
    message = body["error"]["message"]  # type: ignore[index]
    assert message.startswith("query limit exceeded: memory (EXOS_QUERY_MAX_MEMORY_USAGE): ")


def test_running_longer_than_allowed_is_a_503_with_the_reason(loaded: Store) -> None:
    status, body = stats(loaded, query_max_execution_time_s=0.001)
    assert status == 503, body
    message = body["error"]["message"]  # type: ignore[index]
    assert message.startswith("query limit exceeded: time (EXOS_QUERY_MAX_EXECUTION_TIME_S): ")
