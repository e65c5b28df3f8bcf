"""Enriched payloads: every column type of the three tables encoded as hand-written
JSONCompactEachRow lines, values a column cannot hold written so ClickHouse refuses
them, and the checks a message must pass before the writer takes it."""

from __future__ import annotations

import pytest

from exos_common.codec import SCHEMA_HEADER, PoisonRecord, encode
from exos_common.messages import LogRecord, ReplayChunk, SpanEvent, SpanLink, SpanRecord
from exos_common.table_payload import (
    PAYLOAD_SCHEMA,
    ROWS_HEADER,
    TABLE_HEADER,
    TablePayload,
    decode_payload,
    encode_line,
    encode_payload,
    line_bounds,
    lines,
    read_spans,
    spans_in_message,
    timestamp,
    uint,
)

TRICKY_SPAN = SpanRecord(
    session_id="s1",
    timestamp_ns=1_234_567_890_000_000_123,
    trace_id="ab" * 16,
    span_id="cd" * 8,
    name='say "hi"\n\tback\\slash',
    service_name="svc",
    kind="Client",
    duration_ns=2**64 - 1,
    status_code="Error",
    status_message="ünïcödé 😀",
    resource_attributes={"rum.sessionId": "s1"},
    attributes={"k\u0000": "v/\u2028"},
    events=[SpanEvent(5, "e1", {"a": "1"}), SpanEvent(999_999_999, "e2")],
    links=[SpanLink("t1", "l1", "st", {"x": "y"})],
)
TRICKY_LINE = (
    r'["1234567890.000000123","abababababababababababababababab","cdcdcdcdcdcdcdcd","","",'
    r'"say \"hi\"\n\tback\\slash","Client","svc",{"rum.sessionId":"s1"},"","",'
    '{"k\\u0000":"v/\u2028"},18446744073709551615,"Error","ünïcödé 😀",'
    r'["0000000000.000000005","0000000000.999999999"],["e1","e2"],[{"a":"1"},{}],'
    r'["t1"],["l1"],["st"],[{"x":"y"}]]'
    "\n"
).encode()


def test_a_span_with_escapes_unicode_maps_events_and_links_is_one_exact_line() -> None:
    assert encode_line("otel_traces", TRICKY_SPAN) == TRICKY_LINE


def test_a_log_takes_its_observed_time_when_it_has_no_time_and_keeps_extreme_uint8() -> None:
    log = LogRecord(
        "s1",
        0,
        "svc",
        body="multi\nline",
        observed_timestamp_ns=7 * 10**9,
        trace_flags=1,
        severity_text="WARN",
        severity_number=255,
        event_name="ev",
        scope_attributes={"é": "ü"},
    )
    expected = (
        r'["0000000007.000000000","","",1,"WARN",255,"svc","multi\nline","",{},"","","",'
        r'{"é":"ü"},{},"ev"]'
    )
    assert encode_line("otel_logs", log) == (expected + "\n").encode()
    # hyperdx_sessions has no EventName column.
    assert encode_line("hyperdx_sessions", log) == (expected[: -len(',"ev"]')] + "]\n").encode()


@pytest.mark.parametrize(
    ("ns", "expected"),
    [
        (0, "0000000000.000000000"),
        (1, "0000000000.000000001"),
        (20_261_207 * 10**9, "0020261207.000000000"),  # not YYYYMMDD
        (1_765_000_000_123_456_789, "1765000000.123456789"),
        (2**63 - 1, "9223372036.854775807"),
        (2**63, "out of range for DateTime64(9) nanoseconds: 9223372036854775808"),
        (-1, "out of range for DateTime64(9) nanoseconds: -1"),
    ],
)
def test_timestamps_are_exact_decimal_seconds_or_refused(ns: int, expected: str) -> None:
    assert timestamp(ns) == expected


def test_integers_outside_their_column_are_text_clickhouse_refuses_not_wrapped() -> None:
    assert uint(255, 255, "UInt8") == 255
    assert uint(0, 255, "UInt8") == 0
    assert uint(256, 255, "UInt8") == "out of range for UInt8: 256"
    assert uint(-1, 2**64 - 1, "UInt64") == "out of range for UInt64: -1"
    log = LogRecord("s1", 1, "svc", severity_number=300)
    assert b'"out of range for UInt8: 300"' in encode_line("otel_logs", log)


def test_a_record_of_the_wrong_table_or_unencodable_text_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        encode_line("otel_traces", LogRecord("s1", 1, "svc"))
    with pytest.raises(TypeError):  # a lone surrogate has no UTF-8
        encode_line("otel_logs", LogRecord("s1", 1, "svc", body="\ud800"))


def test_a_payload_carries_its_table_and_row_count_and_decodes_back() -> None:
    plain = SpanRecord("s1", 2, "t", "s", "n", "svc", resource_attributes={"rum.sessionId": "s1"})
    spans = [TRICKY_SPAN, plain]
    payload = encode_payload("otel_traces", spans)
    assert payload.row_count == 2
    assert payload.headers() == [
        (SCHEMA_HEADER, b"rows/1"),
        (TABLE_HEADER, b"otel_traces"),
        (ROWS_HEADER, b"2"),
    ]
    assert decode_payload(payload.body, payload.headers()) == payload
    assert read_spans(payload.body) == spans
    assert spans_in_message(payload.body, payload.headers()) == spans


def test_spans_in_message_reads_a_per_span_message_from_before_payloads() -> None:
    span = SpanRecord("s1", 2, "t", "s", "n", "svc")
    value, headers = encode(span)
    assert spans_in_message(value, headers) == [span]
    chunk, chunk_headers = encode(ReplayChunk("s1", 2, "svc"))
    assert spans_in_message(chunk, chunk_headers) == []


def headers(table: bytes = b"otel_traces", rows: bytes = b"2") -> list[tuple[str, bytes]]:
    return [(SCHEMA_HEADER, PAYLOAD_SCHEMA), (TABLE_HEADER, table), (ROWS_HEADER, rows)]


@pytest.mark.parametrize(
    ("body", "message_headers", "why"),
    [
        (b"[1]\n[2]\n", headers(table=b"users"), "unknown table"),
        (b"[1]\n[2]\n", headers()[:2], "row count b''"),
        (b"[1]\n[2]\n", headers(rows=b"two"), "row count b'two'"),
        (b"[1]\n[2]\n", headers(rows=b"3"), "3 rows announced"),
        (b"[1]\n[2]", headers(rows=b"1"), "1 rows announced"),  # last line cut short
        (b"", headers(rows=b"0"), "0 rows announced"),
    ],
)
def test_a_payload_that_does_not_hold_what_its_headers_say_is_poison(
    body: bytes, message_headers: list[tuple[str, bytes]], why: str
) -> None:
    with pytest.raises(PoisonRecord, match=why):
        decode_payload(body, message_headers)


def test_line_bounds_split_a_body_into_its_rows_without_parsing() -> None:
    body = b'["a\\nb"]\n[2]\n["\xc3\xbc"]\n'
    assert line_bounds(body) == [0, 9, 13, 20]
    assert lines(body) == [b'["a\\nb"]\n', b"[2]\n", b'["\xc3\xbc"]\n']
    assert TablePayload("otel_logs", 3, body).body.count(b"\n") == 3
