"""The limited store of the read services: every read path carries the limits, a
statement over one fails with its code, and the store it borrows from stays open."""

from __future__ import annotations

import pytest

from exos_common.service.limits import LimitedStore, QueryLimitSettings, limit_exceeded
from exos_common.store import Store, StoreError

SETTINGS_SQL = (
    "SELECT getSetting('max_rows_to_read') AS rows, getSetting('max_memory_usage') AS memory"
)


def limited(store: Store, **values: float) -> LimitedStore:
    return LimitedStore(store, QueryLimitSettings.model_validate(values).query_settings())


def test_every_read_path_carries_the_limits(migrated_store: Store) -> None:
    store = limited(migrated_store, query_max_rows_to_read=123, query_max_memory_usage=2**30)
    assert store.query(SETTINGS_SQL) == [{"rows": 123, "memory": 2**30}]
    assert store.query_rows(SETTINGS_SQL) == [(123, 2**30)]
    with store.row_blocks(SETTINGS_SQL) as blocks:
        assert [list(row) for block in blocks for row in block] == [[123, 2**30]]
    # The limits are the statement's, not the shared session's.
    assert migrated_store.query_rows("SELECT getSetting('max_rows_to_read')") == [(0,)]


def test_a_statement_over_the_time_limit_fails_with_timeout_exceeded(
    migrated_store: Store,
) -> None:
    store = limited(migrated_store, query_max_execution_time_s=1, query_max_rows_to_read=0)
    with pytest.raises(StoreError) as raised:
        store.query_rows("SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 1")
    assert raised.value.code == 159
    answer = limit_exceeded(raised.value)
    assert answer is not None and answer.status_code == 503
    assert str(answer.detail).startswith("query limit exceeded: time")


def test_closing_the_limited_store_leaves_the_service_store_open(migrated_store: Store) -> None:
    limited(migrated_store).close()
    assert migrated_store.query_rows("SELECT 1") == [(1,)]


def test_other_errors_are_not_limit_answers() -> None:
    assert limit_exceeded(StoreError(60, "Unknown table", "UNKNOWN_TABLE")) is None
    rows = limit_exceeded(StoreError(158, "Limit for rows exceeded", "TOO_MANY_ROWS"))
    assert rows is not None and rows.status_code == 422


def test_a_statement_over_the_memory_limit_fails_with_memory_limit_exceeded(
    migrated_store: Store,
) -> None:
    store = limited(migrated_store, query_max_memory_usage=64 * 1024**2)
    # 200,000 strings of 1,000 bytes gathered in one array: ~200 MB.
    with pytest.raises(StoreError) as raised:
        store.query("SELECT length(groupArray(repeat('x', 1000))) AS n FROM numbers(200000)")
    assert raised.value.code == 241
    answer = limit_exceeded(raised.value)
    assert answer is not None and answer.status_code == 503
    assert str(answer.detail).startswith("query limit exceeded: memory")
