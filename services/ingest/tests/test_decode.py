"""Bytes -> OTLP messages: media types, bounded decompression, hex ids in OTLP/JSON."""

from __future__ import annotations

import gzip
import zlib

import ingest_samples as sample
import pytest

from exos_ingest.errors import IngestError
from exos_ingest.otlp_decode import LOGS, METRICS, TRACES, Encoding, decompress, encoding_of, parse

LIMIT = 1 << 20


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        ("application/x-protobuf", Encoding.PROTOBUF),
        ("application/protobuf", Encoding.PROTOBUF),
        ("application/json", Encoding.JSON),
        ("Application/JSON; charset=utf-8", Encoding.JSON),
    ],
)
def test_media_types(content_type: str, encoding: Encoding) -> None:
    assert encoding_of(content_type) is encoding


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/grpc"])
def test_other_media_types_are_415(content_type: str | None) -> None:
    with pytest.raises(IngestError) as caught:
        encoding_of(content_type)
    assert caught.value.status == 415
    assert "application/x-protobuf or application/json" in caught.value.message


def test_gzip_deflate_and_identity() -> None:
    data = b"otlp" * 1000
    assert decompress(gzip.compress(data), "gzip", LIMIT) == data
    assert decompress(gzip.compress(data), "x-gzip", LIMIT) == data
    assert decompress(zlib.compress(data), "deflate", LIMIT) == data
    raw = zlib.compressobj(wbits=-15)
    assert decompress(raw.compress(data) + raw.flush(), "deflate", LIMIT) == data
    assert decompress(data, None, LIMIT) == data
    assert decompress(data, "identity", LIMIT) == data
    # gzip members back to back are one stream (RFC 1952), as gzip(1) reads them.
    assert decompress(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip", LIMIT) == b"abcd"


def test_a_gzip_bomb_stops_at_the_limit() -> None:
    bomb = gzip.compress(bytes(64 * LIMIT))  # 64 MiB of zeros in ~64 KiB
    assert len(bomb) < LIMIT
    with pytest.raises(IngestError) as caught:
        decompress(bomb, "gzip", LIMIT)
    assert caught.value.status == 413
    assert "EXOS_INGEST_MAX_DECOMPRESSED_BYTES" in caught.value.message
    # Exactly at the limit is fine.
    assert len(decompress(gzip.compress(bytes(LIMIT)), "gzip", LIMIT)) == LIMIT


def test_broken_and_unknown_codings() -> None:
    whole = gzip.compress(b"x" * 10_000)
    for body, coding, status, text in [
        (whole[: len(whole) // 2], "gzip", 400, "truncated gzip body"),
        (b"not gzip at all", "gzip", 400, "invalid gzip body"),
        (b"", "gzip", 400, "truncated gzip body"),
        (b"data", "br", 415, "unsupported Content-Encoding 'br'"),
    ]:
        with pytest.raises(IngestError) as caught:
            decompress(body, coding, LIMIT)
        assert (caught.value.status, caught.value.message[: len(text)]) == (status, text)


def test_otlp_json_ids_are_hex_not_base64() -> None:
    request = parse(TRACES, Encoding.JSON, sample.json_bytes(sample.hyperdx_traces()))
    span = request.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id == bytes.fromhex(sample.TRACE)
    assert span.span_id == bytes.fromhex(sample.CLICK_SPAN)
    console = request.resource_spans[0].scope_spans[2].spans[0]
    assert console.parent_span_id == bytes.fromhex(sample.CLICK_SPAN)


def test_json_logs_ids_snake_case_names_and_unknown_fields() -> None:
    body = (
        b'{"resource_logs":[{"scopeLogs":[{"logRecords":[{"trace_id":"'
        + sample.TRACE.encode()
        + b'","spanId":"00f067aa0ba902b7","timeUnixNano":5,"body":{"stringValue":"x"},'
        b'"futureField":{"a":1}}]}]}],"alsoUnknown":true}'
    )
    request = parse(LOGS, Encoding.JSON, body)
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    assert record.trace_id.hex() == sample.TRACE.lower()
    assert record.span_id.hex() == "00f067aa0ba902b7"
    assert record.time_unix_nano == 5


def test_json_metric_exemplar_ids() -> None:
    body = (
        b'{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"dataPoints":'
        b'[{"asInt":"3","exemplars":[{"traceId":"' + sample.TRACE.encode() + b'",'
        b'"spanId":"00f067aa0ba902b7","asDouble":1.5}]}]}}]}]}]}'
    )
    request = parse(METRICS, Encoding.JSON, body)
    exemplar = request.resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points[0]
    assert exemplar.exemplars[0].span_id.hex() == "00f067aa0ba902b7"


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"{", "body is not valid JSON"),
        (b"[]", "ExportTraceServiceRequest must be a JSON object"),
        (b'{"resourceSpans":"no"}', "body is not a valid OTLP/JSON ExportTraceServiceRequest"),
        (
            b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"soon"}]}]}]}',
            "body is not a valid OTLP/JSON ExportTraceServiceRequest",
        ),
    ],
)
def test_bad_json_is_400(body: bytes, text: str) -> None:
    with pytest.raises(IngestError) as caught:
        parse(TRACES, Encoding.JSON, body)
    assert caught.value.status == 400
    assert text in caught.value.message


def test_a_non_hex_id_spoils_its_record_not_the_request() -> None:
    body = b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz","spanId":"abc"}]}]}]}'
    (span,) = parse(TRACES, Encoding.JSON, body).resource_spans[0].scope_spans[0].spans
    # One byte: no id has that length, so flattening rejects this span alone.
    assert (span.trace_id, span.span_id) == (b"\xff", b"\xff")


def test_bad_protobuf_is_400() -> None:
    with pytest.raises(IngestError) as caught:
        parse(TRACES, Encoding.PROTOBUF, b"\x0a\xff\xff\xff\xff\x0f garbage")
    assert caught.value.status == 400
    assert caught.value.message.startswith("body is not a valid protobuf ExportTraceServiceRequest")


def test_an_empty_protobuf_request_is_an_empty_export() -> None:
    assert len(parse(TRACES, Encoding.PROTOBUF, b"").resource_spans) == 0
