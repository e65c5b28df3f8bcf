"""Error classes and the token / commit-metadata formats (pure functions)."""

from __future__ import annotations

import struct

import pytest

from exos_common.bus import BusUnavailable, TopicPartition
from exos_common.store import StoreDataError, StoreError, StoreUnavailable, parse_error
from exos_writer.errors import ErrorClass, classify, error_name
from exos_writer.tokens import (
    PartitionMark,
    batch_token,
    intent,
    parse_mark,
    records_token,
    rows_token,
    settled,
)

T, D, U = ErrorClass.TRANSIENT, ErrorClass.DATA, ErrorClass.UNKNOWN


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (StoreUnavailable(0, "connection refused"), T),
        (ConnectionResetError("reset by peer"), T),
        (TimeoutError(), T),
        (BusUnavailable("kafka down"), T),
        (StoreError(252, "Too many parts (300)", "TOO_MANY_PARTS"), T),
        (StoreError(241, "Memory limit (total) exceeded", "MEMORY_LIMIT_EXCEEDED"), T),
        (StoreError(159, "Timeout exceeded", "TIMEOUT_EXCEEDED"), T),
        (StoreError(210, "Connection reset", "NETWORK_ERROR"), T),
        (StoreError(242, "Table is in readonly mode", "TABLE_IS_READ_ONLY"), T),
        (StoreError(60, "Table t.otel_logs does not exist", "UNKNOWN_TABLE"), T),
        (StoreError(0, "HTTPDriver for http://ch:8123 received response code 503"), T),
        (StoreError(0, "HTTP driver received HTTP status 502, server response: Bad Gateway"), T),
        (StoreError(0, "HTTP driver received HTTP status 404, server response: no"), U),
        (StoreError(321, "Value 300 out of range", "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"), D),
        (StoreError(6, "Cannot parse text", "CANNOT_PARSE_TEXT"), D),
        (StoreError(9999, "new parse code", "CANNOT_PARSE_IPV6"), D),
        (StoreError(53, "Type mismatch", "TYPE_MISMATCH"), D),
        (StoreError(43, "Illegal type", "ILLEGAL_TYPE_OF_ARGUMENT"), D),
        (StoreError(70, "Cannot convert", "CANNOT_CONVERT_TYPE"), D),
        (StoreError(69, "Out of bound", "ARGUMENT_OUT_OF_BOUND"), D),
        (StoreError(117, "Incorrect data", "INCORRECT_DATA"), D),
        (StoreDataError(0, "Unable to create native array for column `SeverityNumber`"), D),
        (struct.error("ubyte format requires 0 <= number <= 255"), D),
        (OverflowError("int too big to convert"), D),
        (ValueError("bad value"), D),
        (TypeError("not a str"), D),
        (StoreError(0, "something nobody has seen"), U),
        (StoreError(1001, "std::exception", "STD_EXCEPTION"), U),
        (RuntimeError("?"), U),
    ],
)
def test_classify(error: BaseException, expected: ErrorClass) -> None:
    assert classify(error) is expected


def test_an_http_error_text_keeps_its_clickhouse_code_and_class() -> None:
    text = (
        "HTTPDriver for http://127.0.0.1:8123 received ClickHouse error code 321\n"
        "Code: 321. DB::Exception: Value 300 is out of range of UInt8. "
        "(VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE) (version 25.8.1.1)"
    )
    error = parse_error(text)
    assert (error.code, error.name) == (321, "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE")
    assert classify(error) is D
    assert error_name(error) == "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"
    # A 500 that carries a ClickHouse code is classified by the code, not the status.
    served = parse_error(
        "Received ClickHouse exception, code: 6, server response: Code: 6. DB::Exception: "
        "Cannot parse string 'soon' as DateTime64(9). (CANNOT_PARSE_TEXT) (version 25.8.1.1)"
    )
    assert (served.code, served.name, classify(served)) == (6, "CANNOT_PARSE_TEXT", D)
    assert error_name(StoreDataError(0, "x")) == "CANNOT_ENCODE"
    assert error_name(StoreError(77, "x")) == "CODE_77"
    assert error_name(OverflowError()) == "OverflowError"


TP = TopicPartition("exos.spans.enriched", 3)


def test_tokens_name_table_identity_partition_and_offsets() -> None:
    token = batch_token("otel_traces", "ab12", TP, 100, 149)
    assert token == "otel_traces:ab12:exos.spans.enriched:3:100-149"
    # Without an identity the token is what writers before incarnations used.
    assert (
        batch_token("otel_traces", "", TP, 100, 149) == "otel_traces:exos.spans.enriched:3:100-149"
    )
    assert records_token(token, 100, 124) == f"{token}/100-124"
    assert rows_token(token, 120, 0, 3) == f"{token}/120#0-3"


def test_commit_metadata_round_trips() -> None:
    assert parse_mark(intent("ab12", 100, 149)) == PartitionMark("ab12", 100, 149)
    assert parse_mark(settled("ab12")) == PartitionMark("ab12")
    # An intent written before incarnations: re-formed under the empty incarnation.
    assert parse_mark("exos-batch:100-149") == PartitionMark("", 100, 149)
    assert parse_mark("") == PartitionMark()
    assert parse_mark("something-else") == PartitionMark()
    assert parse_mark("exos-batch:ab12:x-y") == PartitionMark()
    assert parse_mark("exos:") == PartitionMark()
