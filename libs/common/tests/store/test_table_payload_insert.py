"""A raw insert of enriched payloads lands exactly the rows they hold, on chDB and over
HTTP: every column type read back, escapes and unicode intact, nanoseconds exact; a
refused row refuses its insert (nothing lands); a retried token lands nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exos_common.messages import LogRecord, SpanEvent, SpanLink, SpanRecord
from exos_common.schema.runner import migrate
from exos_common.settings import StoreSettings
from exos_common.store import Store, StoreError
from exos_common.table_payload import PAYLOAD_FORMAT, TABLE_COLUMNS, encode_payload
from exos_common.testing.dates import on, to_ns

BASE_NS = to_ns(on(15, 9, 30)) + 123_456_789
NASTY = 'quote " backslash \\ newline \n tab \t nul \x00 ünï 😀 \u2028'


@pytest.fixture
def tables(store: Store, store_settings: StoreSettings) -> Iterator[Store]:
    migrate(store, store_settings, dedup_window=100)
    yield store


def insert(store: Store, table: str, records: list, token: str | None = None) -> int:
    payload = encode_payload(table, records)
    return store.insert_raw(
        table, TABLE_COLUMNS[table], payload.body, PAYLOAD_FORMAT, dedup_token=token
    )


def test_spans_land_exactly_with_every_column_type(tables: Store) -> None:
    spans = [
        SpanRecord(
            session_id="s1",
            timestamp_ns=BASE_NS,
            trace_id="ab" * 16,
            span_id="cd" * 8,
            name=NASTY,
            service_name="svc",
            parent_span_id="ef" * 8,
            trace_state="k=v",
            kind="Client",
            duration_ns=2**64 - 1,
            status_code="Error",
            status_message=NASTY,
            resource_attributes={"rum.sessionId": "s1", "ключ": NASTY},
            attributes={"k\x00": "v", "SampleRate": "4"},
            events=[SpanEvent(BASE_NS + 1, "e1", {"a": NASTY}), SpanEvent(BASE_NS + 2, "e2")],
            links=[SpanLink("11" * 16, "22" * 8, "ls", {"x": "y"})],
        ),
        SpanRecord("s1", BASE_NS + 7, "t2", "s2", "plain", "svc"),
    ]
    insert(tables, "otel_traces", spans)
    rows = tables.query_rows(
        "SELECT toUnixTimestamp64Nano(Timestamp), TraceId, SpanId, ParentSpanId, TraceState,"
        " SpanName, SpanKind, ResourceAttributes, SpanAttributes, Duration, StatusMessage,"
        " arrayMap(t -> toUnixTimestamp64Nano(t), Events.Timestamp), Events.Name,"
        " Events.Attributes, Links.TraceId, Links.SpanId, Links.TraceState, Links.Attributes,"
        " `__hdx_materialized_rum.sessionId`, SampleRate"
        " FROM otel_traces ORDER BY Timestamp"
    )
    assert rows == [
        (
            BASE_NS,
            "ab" * 16,
            "cd" * 8,
            "ef" * 8,
            "k=v",
            NASTY,
            "Client",
            {"rum.sessionId": "s1", "ключ": NASTY},
            {"k\x00": "v", "SampleRate": "4"},
            2**64 - 1,
            NASTY,
            [BASE_NS + 1, BASE_NS + 2],
            ["e1", "e2"],
            [{"a": NASTY}, {}],
            ["11" * 16],
            ["22" * 8],
            ["ls"],
            [{"x": "y"}],
            "s1",
            4,
        ),
        (
            BASE_NS + 7,
            "t2",
            "s2",
            "",
            "",
            "plain",
            "Internal",
            {},
            {},
            0,
            "",
            [],
            [],
            [],
            [],
            [],
            [],
            [],
            "",
            1,
        ),
    ]


def test_logs_land_exactly_with_extreme_small_integers(tables: Store) -> None:
    logs = [
        LogRecord(
            "s1",
            BASE_NS,
            "svc",
            body=NASTY,
            trace_flags=255,
            severity_text="FATAL",
            severity_number=255,
            event_name="ev",
            attributes={"é": NASTY},
        ),
        LogRecord("s1", 0, "svc", body="", observed_timestamp_ns=BASE_NS + 1),
    ]
    insert(tables, "otel_logs", logs)
    rows = tables.query_rows(
        "SELECT toUnixTimestamp64Nano(Timestamp), TraceFlags, SeverityNumber, Body,"
        " LogAttributes, EventName FROM otel_logs ORDER BY Timestamp"
    )
    assert rows == [
        (BASE_NS, 255, 255, NASTY, {"é": NASTY}, "ev"),
        (BASE_NS + 1, 0, 0, "", {}, ""),
    ]


def test_a_value_outside_its_column_refuses_the_insert_instead_of_wrapping(
    tables: Store,
) -> None:
    good = LogRecord("s1", BASE_NS, "svc", severity_number=9)
    bad = LogRecord("s1", BASE_NS, "svc", severity_number=300)  # 44 if ClickHouse wrapped it
    with pytest.raises(StoreError) as refused:
        insert(tables, "otel_logs", [good, bad])
    assert refused.value.code == 27  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
    late = SpanRecord("s1", 2**63, "t", "s", "n", "svc")
    with pytest.raises(StoreError) as refused:
        insert(tables, "otel_traces", [late])
    assert refused.value.code == 41  # CANNOT_PARSE_DATETIME
    assert tables.query_rows("SELECT count() FROM otel_logs") == [(0,)]


def test_a_retry_with_the_same_token_lands_nothing_more(tables: Store) -> None:
    logs = [LogRecord("s1", BASE_NS + i, "svc", body=str(i)) for i in range(3)]
    insert(tables, "otel_logs", logs, token="logs.enriched:0:0-2")
    insert(tables, "otel_logs", logs, token="logs.enriched:0:0-2")
    insert(tables, "otel_logs", logs[:1], token="logs.enriched:0:3-3")
    assert tables.query_rows("SELECT count() FROM otel_logs") == [(4,)]


def test_moments_of_any_number_of_seconds_land_exactly(tables: Store) -> None:
    """ClickHouse reads 8 digits of seconds as YYYYMMDD and refused fewer than 9 before a
    fraction (a span from before 2001 was quarantined): every digit count lands exactly.
    Into a table without the logs' TTL, which would drop moments this old."""
    tables.command("CREATE TABLE moments ENGINE = Memory AS SELECT * FROM otel_logs WHERE 0")
    moments = [0, 5, 1_500_000_000, 20_261_207 * 10**9 + 1, 123_456_789 * 10**9, 2**63 - 1]
    payload = encode_payload("otel_logs", [LogRecord("s1", ns, "svc") for ns in moments])
    tables.insert_raw("moments", TABLE_COLUMNS["otel_logs"], payload.body, PAYLOAD_FORMAT)
    stored = tables.query_rows("SELECT toUnixTimestamp64Nano(Timestamp) FROM moments")
    # A log without a time takes its observed time: 0 stays 0 here (both are 0).
    assert sorted(r[0] for r in stored) == moments
