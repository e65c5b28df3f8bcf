"""One contract for the store, run in-process on chDB and over HTTP against the embedded
ClickHouse server, both through clickhouse-connect (fixtures in conftest.py)."""

from __future__ import annotations

from datetime import datetime

import pytest

from exos_common.store import Store, StoreError

TABLE_DDL = """
CREATE TABLE events
(
    ts DateTime64(9),
    service LowCardinality(String),
    attributes Map(LowCardinality(String), String),
    duration UInt64
)
ENGINE = MergeTree ORDER BY (service, ts)
SETTINGS non_replicated_deduplication_window = 100
"""
COLUMNS = ["ts", "service", "attributes", "duration"]


def batch(first: int, count: int) -> list[list[object]]:
    return [
        [
            datetime(2026, 11, 28, 12, 0, first + i, 123456),
            "portal" if i % 2 else "ingest",
            {"http.url": f"/orders/{first + i}", "user.email": "a@example.test"},
            1_000_000 * (first + i),
        ]
        for i in range(count)
    ]


def test_insert_batches_and_read_back_exact_values(store: Store) -> None:
    store.command(TABLE_DDL)
    assert store.insert("events", batch(0, 3), COLUMNS) == 3
    assert store.insert("events", batch(3, 2), COLUMNS) == 2
    rows = store.query(
        "SELECT ts, service, attributes, duration, toTypeName(service) AS type "
        "FROM events ORDER BY ts"
    )
    assert len(rows) == 5
    assert rows[4]["ts"] == datetime(2026, 11, 28, 12, 0, 4, 123456)
    assert rows[4]["attributes"] == {"http.url": "/orders/4", "user.email": "a@example.test"}
    assert [r["service"] for r in rows] == ["ingest", "portal", "ingest", "ingest", "portal"]
    assert rows[3]["duration"] == 3_000_000
    assert rows[0]["type"] == "LowCardinality(String)"


def test_parameters_are_bound_not_spliced(store: Store) -> None:
    store.command(TABLE_DDL)
    store.insert("events", batch(0, 4), COLUMNS)
    rows = store.query_rows(
        "SELECT count() FROM events WHERE attributes['http.url'] = {url:String} "
        "AND duration >= {min:UInt64}",
        {"url": "/orders/2", "min": 2_000_000},
    )
    assert rows == [(1,)]
    hostile = "x' OR 1=1 --"
    assert store.query_rows(
        "SELECT count() FROM events WHERE service = {s:String}", {"s": hostile}
    ) == [(0,)]
    assert store.query_rows("SELECT {s:String} AS echoed", {"s": hostile}) == [(hostile,)]


def test_errors_carry_clickhouse_code_name_and_message(store: Store) -> None:
    with pytest.raises(StoreError) as unknown:
        store.query("SELECT * FROM no_such_table")
    assert unknown.value.code == 60
    assert unknown.value.name == "UNKNOWN_TABLE"
    assert "no_such_table" in unknown.value.message

    with pytest.raises(StoreError) as syntax:
        store.query("SELEC 1")
    assert (syntax.value.code, syntax.value.name) == (62, "SYNTAX_ERROR")


def test_dedup_token_drops_a_retried_batch(store: Store) -> None:
    store.command(TABLE_DDL)
    rows = batch(0, 10)
    store.insert("events", rows, COLUMNS, dedup_token="spans.enriched:0:100-109")
    store.insert("events", rows, COLUMNS, dedup_token="spans.enriched:0:100-109")  # retry
    assert store.query_rows("SELECT count() FROM events") == [(10,)]
    # The same rows under another batch's token are a different batch: both are kept.
    store.insert("events", rows, COLUMNS, dedup_token="spans.enriched:0:110-119")
    assert store.query_rows("SELECT count() FROM events") == [(20,)]


def test_query_settings_are_applied(store: Store) -> None:
    store.command(TABLE_DDL)
    store.insert("events", batch(0, 5), COLUMNS)
    with pytest.raises(StoreError) as limited:
        store.query(
            "SELECT * FROM events",
            settings={"max_result_rows": 2, "result_overflow_mode": "throw"},
        )
    assert limited.value.code == 396  # TOO_MANY_ROWS_OR_BYTES
