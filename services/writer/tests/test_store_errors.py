"""ClickHouse's own refusals, through both store backends (chDB in-process, and the HTTP
interface of the embedded ClickHouse server): each arrives with its code and name and
falls in the class the writer acts on."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from exos_common.messages import LogRecord
from exos_common.schema import migrate
from exos_common.settings import StoreSettings
from exos_common.store import Store, StoreError, open_store
from exos_common.table_payload import encode_payload, insert_payload
from exos_common.testing.clickhouse import ClickHouseServer
from exos_writer.errors import ErrorClass, classify, error_name


@pytest.fixture
def http_store(clickhouse_server: ClickHouseServer) -> Iterator[Store]:
    settings = StoreSettings(
        clickhouse_url=clickhouse_server.url, clickhouse_database=f"w_{uuid.uuid4().hex[:10]}"
    )
    store = open_store(settings, create_database=True)
    migrate(store, settings, dedup_window=1000)
    yield store
    store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    store.close()


def refusals(store: Store) -> None:
    with pytest.raises(StoreError) as missing:
        store.insert("no_such_table", [[1]], ["x"], dedup_token="t1")
    assert (missing.value.code, missing.value.name) == (60, "UNKNOWN_TABLE")
    assert classify(missing.value) is ErrorClass.TRANSIENT  # migrations not applied yet

    with pytest.raises(StoreError) as unparsable:
        store.command("INSERT INTO otel_logs (Timestamp, SeverityNumber) VALUES ('soon', 1)")
    assert unparsable.value.name.startswith("CANNOT_PARSE")
    assert classify(unparsable.value) is ErrorClass.DATA

    # A value its column cannot hold is written as text the column refuses (never
    # wrapped around), so ClickHouse refuses the row.
    log = LogRecord("s1", time.time_ns(), "portal", severity_number=300)
    with pytest.raises(StoreError) as too_big:
        insert_payload(store, encode_payload("otel_logs", [log]), dedup_token="t2")
    assert classify(too_big.value) is ErrorClass.DATA
    assert error_name(too_big.value).startswith("CANNOT_PARSE")
    assert store.query_rows("SELECT count() FROM otel_logs") == [(0,)]


def test_chdb_refusals_carry_codes_and_classes(store: Store) -> None:
    refusals(store)


@pytest.mark.clickhouse_server
def test_http_refusals_carry_codes_and_classes(http_store: Store) -> None:
    refusals(http_store)
