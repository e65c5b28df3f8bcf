"""The result limits hold on the real engine: a statement whose result is ~400 MB comes
back cut at the byte limit and flagged, and reading it grows this process by about the
limit, not by the result (the insights pod has 512 MiB).

`repeat('x', 1000000)` rows are `{"s":"x...x"}`: 1,000,008 bytes of JSON each, so the
default 32 MiB (33,554,432 bytes) holds 33 of them (33,000,264 bytes; 34 would be
34,000,272)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from exos_common.schema import migrate
from exos_common.settings import StoreSettings
from exos_common.store import Store, open_store
from exos_common.testing.clickhouse import ClickHouseServer
from exos_insights.app import create_app
from exos_insights.guard import SqlGuard
from exos_insights.settings import InsightsSettings

BIG_RESULT = "SELECT repeat('x', 1000000) AS s FROM numbers(400)"  # 400 MB
ROWS_IN_32_MIB = 33
MIB = 1024**2


def memory_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing from /proc/self/status")


def peak_growth_mib(run: object) -> float:
    """Peak resident memory while `run()` runs, over the resident memory before it
    (the kernel's high-water mark is reset first: writing 5 to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")
    before = memory_kib("VmRSS")
    run()  # type: ignore[operator]
    return (memory_kib("VmHWM") - before) / 1024


def check_cut(body: dict[str, object]) -> None:
    rows = body["rows"]
    assert body["truncated"] is True
    assert isinstance(rows, list) and len(rows) == ROWS_IN_32_MIB
    assert all(row == ["x" * 1_000_000] for row in rows)


def test_a_400_mb_result_is_cut_at_the_byte_limit_on_chdb(world_store: Store) -> None:
    with TestClient(create_app(store=world_store)) as client:
        response = client.post("/api/insights/sql", json={"sql": BIG_RESULT})
    assert response.status_code == 200, response.text[:500]
    check_cut(response.json())


def test_the_row_limit_cuts_before_the_byte_limit_when_rows_are_small(world_store: Store) -> None:
    settings = InsightsSettings(insights_max_result_rows=7)
    with TestClient(create_app(settings, store=world_store)) as client:
        body = client.post(
            "/api/insights/sql", json={"sql": "SELECT repeat('y', 10) AS s FROM numbers(1000)"}
        ).json()
    assert body["rows"] == [["y" * 10]] * 7 and body["truncated"] is True


@pytest.fixture(scope="module")
def http_store(clickhouse_server: ClickHouseServer) -> Iterator[Store]:
    settings = StoreSettings(
        clickhouse_url=clickhouse_server.url, clickhouse_database=f"cut_{uuid.uuid4().hex[:8]}"
    )
    store = open_store(settings, create_database=True)
    migrate(store, settings, dedup_window=100)
    yield store
    store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    store.close()


@pytest.mark.clickhouse_server
def test_over_http_the_cut_holds_and_memory_grows_by_about_the_limit(http_store: Store) -> None:
    settings = InsightsSettings()
    policy = settings.guard_policy(http_store.database)
    guard = SqlGuard(http_store, policy, settings.guard_limits())
    checked = guard.check(BIG_RESULT)
    results = []
    growth = peak_growth_mib(lambda: results.append(guard.run(checked)))
    (result,) = results
    assert result.truncated is True and len(result.rows) == ROWS_IN_32_MIB
    # The kept rows are 31.5 MiB of text; reading 400 MB must not hold much more.
    assert growth < settings.insights_max_result_bytes / MIB + 40, f"grew {growth:.0f} MiB"

    # The server is free afterwards: the cut statement was cancelled, the next one runs.
    assert guard.run(guard.check("SELECT 1 AS one")).rows == [[1]]


@pytest.mark.clickhouse_server
def test_over_http_the_console_answers_the_cut_result(http_store: Store) -> None:
    with TestClient(create_app(store=http_store)) as client:
        response = client.post("/api/insights/sql", json={"sql": BIG_RESULT})
    assert response.status_code == 200, response.text[:500]
    check_cut(response.json())
