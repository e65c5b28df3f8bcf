"""The OTLP/JSON walker against `json_format` (the decoder it replaces): on a corpus of
edge cases and on generated documents, both give the same message, or the same 400."""

from __future__ import annotations

import copy
import json
from typing import Any

import ingest_samples as sample
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from test_fuzz import as_otlp_json, log_requests, odd_json_documents, trace_requests

from exos_ingest import otlp_json
from exos_ingest.errors import IngestError
from exos_ingest.otlp_decode import (
    LOGS,
    METRICS,
    TRACES,
    Encoding,
    Signal,
    load_json,
    parse,
    parse_json_with_json_format,
)

DIFFERENTIAL = settings(
    database=None,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def outcome(decode: Any) -> bytes | str:
    try:
        return bytes(decode().SerializeToString(deterministic=True))
    except IngestError as exc:
        return f"{exc.status} {exc.message}"


def assert_same_as_json_format(signal: Signal, document: dict[str, Any]) -> None:
    payload = json.dumps(document).encode()
    new = outcome(lambda: parse(signal, Encoding.JSON, payload))
    old = outcome(
        lambda: parse_json_with_json_format(signal, signal.request(), load_json(signal, payload))
    )
    assert new == old


def takes_fast_path(signal: Signal, document: dict[str, Any]) -> bool:
    try:
        otlp_json.fill(signal.request(), copy.deepcopy(document))
    except otlp_json.NotPlain:
        return False
    return True


def span_doc(**span: Any) -> dict[str, Any]:
    base = {"traceId": "4BF92F3577B34DA6A3CE929D0E0E4736", "spanId": "00f067aa0ba902b7"}
    return {"resourceSpans": [{"scopeSpans": [{"spans": [{**base, **span}]}]}]}


def attr_doc(value: Any) -> dict[str, Any]:
    return span_doc(attributes=[{"key": "k", "value": value}])


def deep_value(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(levels):
        value = {"arrayValue": {"values": [value]}}
    return value


# (signal, document, whether the walker takes it: False means json_format decides)
CORPUS = [
    pytest.param(TRACES, sample.hyperdx_traces(), True, id="hyperdx-traces"),
    pytest.param(TRACES, span_doc(), True, id="minimal-span"),
    pytest.param(TRACES, span_doc(startTimeUnixNano="1764307200000000000"), True, id="int64-str"),
    pytest.param(TRACES, span_doc(startTimeUnixNano=1764307200000000000), True, id="int64-num"),
    pytest.param(TRACES, span_doc(endTimeUnixNano="18446744073709551615"), True, id="u64-max"),
    pytest.param(TRACES, span_doc(endTimeUnixNano="18446744073709551616"), False, id="u64-over"),
    pytest.param(TRACES, span_doc(startTimeUnixNano="-1"), False, id="u64-negative"),
    pytest.param(TRACES, span_doc(startTimeUnixNano="+5"), False, id="int-plus-sign"),
    pytest.param(TRACES, span_doc(startTimeUnixNano="1_000"), False, id="int-underscore"),
    pytest.param(TRACES, span_doc(startTimeUnixNano=5.0), False, id="int-as-float"),
    pytest.param(TRACES, span_doc(startTimeUnixNano=5.5), False, id="int-fraction"),
    pytest.param(TRACES, span_doc(startTimeUnixNano=True), False, id="int-as-bool"),
    pytest.param(TRACES, span_doc(traceId="AAAAAAAAAAAAAAAAAAAAAQ=="), True, id="base64-id"),
    pytest.param(TRACES, span_doc(spanId="zz"), True, id="non-hex-id"),
    pytest.param(TRACES, span_doc(parentSpanId=""), True, id="empty-parent"),
    pytest.param(TRACES, span_doc(spanId="abc"), True, id="odd-length-hex"),
    pytest.param(
        TRACES,
        {"resource_spans": [{"scope_spans": [{"spans": [{"trace_id": "ab" * 16}]}]}]},
        True,
        id="snake-ids",
    ),
    pytest.param(TRACES, span_doc(spanId=5), False, id="id-as-number"),
    pytest.param(TRACES, span_doc(kind="SPAN_KIND_SERVER"), True, id="enum-name"),
    pytest.param(TRACES, span_doc(kind=3), True, id="enum-number"),
    pytest.param(TRACES, span_doc(kind=99), True, id="enum-unknown-number"),
    pytest.param(TRACES, span_doc(kind="SERVER"), False, id="enum-unknown-name"),
    pytest.param(TRACES, span_doc(status={"code": "STATUS_CODE_ERROR", "message": "x"}), True),
    pytest.param(TRACES, span_doc(status={}), True, id="empty-status"),
    pytest.param(TRACES, span_doc(name=None), False, id="null-name"),
    pytest.param(TRACES, span_doc(name=5), False, id="name-as-number"),
    pytest.param(TRACES, span_doc(name="a", flags=257, unknownField={"x": 1}), True, id="unknown"),
    pytest.param(TRACES, span_doc(name="a", **{"trace_state": "x", "traceState": "y"}), False),
    pytest.param(TRACES, span_doc(attributes={"key": "k"}), False, id="attributes-not-list"),
    pytest.param(TRACES, span_doc(attributes=[None]), False, id="null-attribute"),
    pytest.param(TRACES, span_doc(events=[{"timeUnixNano": "1", "name": "e"}]), True),
    pytest.param(TRACES, span_doc(links=[{"traceId": "ab" * 16, "spanId": "zz"}]), True),
    pytest.param(TRACES, attr_doc({"stringValue": "s"}), True, id="string-value"),
    pytest.param(TRACES, attr_doc({"intValue": "-9223372036854775808"}), True, id="i64-min"),
    pytest.param(TRACES, attr_doc({"intValue": 3}), True, id="int-value-number"),
    pytest.param(TRACES, attr_doc({"doubleValue": 1}), True, id="double-from-int"),
    pytest.param(TRACES, attr_doc({"doubleValue": 0.1}), True, id="double"),
    pytest.param(TRACES, attr_doc({"doubleValue": "NaN"}), False, id="double-nan-string"),
    pytest.param(TRACES, attr_doc({"boolValue": False}), True, id="bool"),
    pytest.param(TRACES, attr_doc({"boolValue": "true"}), False, id="bool-as-string"),
    pytest.param(TRACES, attr_doc({"bytesValue": "aGk="}), True, id="bytes"),
    pytest.param(TRACES, attr_doc({"bytesValue": "aGk"}), True, id="bytes-unpadded"),
    pytest.param(TRACES, attr_doc({"bytesValue": "a-_b"}), True, id="bytes-urlsafe"),
    pytest.param(TRACES, attr_doc({"stringValue": "a", "intValue": 1}), False, id="two-oneofs"),
    pytest.param(TRACES, attr_doc({"arrayValue": {}}), True, id="empty-array"),
    pytest.param(TRACES, attr_doc({"kvlistValue": {"values": [{"key": "a"}]}}), True),
    pytest.param(TRACES, attr_doc({}), True, id="empty-value"),
    pytest.param(TRACES, attr_doc(deep_value(10)), True, id="nested-10"),
    pytest.param(TRACES, attr_doc(deep_value(40)), False, id="nested-40"),
    pytest.param(TRACES, {"resourceSpans": "x"}, False, id="resource-spans-not-list"),
    pytest.param(TRACES, {"resourceSpans": [3]}, False, id="resource-spans-item-number"),
    pytest.param(TRACES, {}, True, id="empty-request"),
    pytest.param(TRACES, {"resource_spans": [{"schema_url": "u"}]}, True, id="snake-case"),
    pytest.param(
        LOGS,
        {
            "resourceLogs": [
                {
                    "resource": {"attributes": [{"key": "rum.sessionId", "value": {}}]},
                    "scopeLogs": [
                        {
                            "logRecords": [
                                {
                                    "timeUnixNano": "1764307200000000000",
                                    "severityNumber": "SEVERITY_NUMBER_ERROR",
                                    "body": {"stringValue": "boom"},
                                    "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                                    "spanId": "",
                                    "flags": 1,
                                    "eventName": "e",
                                }
                            ]
                        }
                    ],
                }
            ]
        },
        True,
        id="logs",
    ),
    pytest.param(
        METRICS,
        {
            "resourceMetrics": [
                {
                    "scopeMetrics": [
                        {
                            "metrics": [
                                {
                                    "name": "m",
                                    "histogram": {
                                        "dataPoints": [
                                            {
                                                "bucketCounts": ["1", 2],
                                                "explicitBounds": [0.5],
                                                "exemplars": [{"traceId": "ab" * 16}],
                                            }
                                        ]
                                    },
                                }
                            ]
                        }
                    ]
                }
            ]
        },
        True,
        id="metrics-histogram",
    ),
]


@pytest.mark.parametrize(("signal", "document", "fast"), CORPUS)
def test_corpus_decodes_as_json_format_does(
    signal: Signal, document: dict[str, Any], fast: bool
) -> None:
    assert takes_fast_path(signal, document) is fast
    assert_same_as_json_format(signal, document)


def test_hex_and_int64_strings_become_the_expected_fields() -> None:
    document = span_doc(startTimeUnixNano="1764307200000000001", kind="SPAN_KIND_CLIENT")
    message = parse(TRACES, Encoding.JSON, json.dumps(document).encode())
    assert isinstance(message, ExportTraceServiceRequest)
    span = message.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id == bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
    assert span.span_id == bytes.fromhex("00f067aa0ba902b7")
    assert (span.start_time_unix_nano, span.kind) == (1_764_307_200_000_000_001, 3)


@DIFFERENTIAL
@given(request=st.one_of(trace_requests(), log_requests()))
def test_generated_requests_decode_as_json_format_does(request: Any) -> None:
    signal = TRACES if isinstance(request, ExportTraceServiceRequest) else LOGS
    assert_same_as_json_format(signal, as_otlp_json(request))


@DIFFERENTIAL
@given(body=odd_json_documents())
def test_odd_documents_decode_as_json_format_does(body: bytes) -> None:
    document = json.loads(body)
    signal = TRACES if "resourceSpans" in document else LOGS
    assert_same_as_json_format(signal, document)
