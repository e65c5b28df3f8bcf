"""OTLP requests -> pipeline records, exactly (expected values written out by hand from
the sample bodies in ingest_samples.py)."""

from __future__ import annotations

import ingest_samples as sample
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from exos_common.messages import (
    ClientContext,
    LogRecord,
    ReplayChunk,
    SpanEvent,
    SpanLink,
    SpanRecord,
)
from exos_ingest.console import severity_of
from exos_ingest.flatten import flatten_logs, flatten_traces, session_of
from exos_ingest.otlp_decode import LOGS, TRACES, Encoding, decompress, parse

CLIENT = ClientContext(
    ip="198.51.100.4",
    user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0",
    accept_language="de-DE,de;q=0.9",
    referer="https://shop.example/cart",
    received_at_ns=1764307210000000000,
)
RESOURCE = sample.RESOURCE_ATTRIBUTES
TRACE_HEX = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_hyperdx_json_traces_flatten_to_exact_records() -> None:
    request = parse(TRACES, Encoding.JSON, sample.json_bytes(sample.hyperdx_traces()))
    out = flatten_traces(request, CLIENT)

    assert out.received == 4
    assert out.rejected_count == 0
    click, vitals, console_log, error_span, error_log = out.records
    assert click == SpanRecord(
        session_id=sample.SESSION,
        timestamp_ns=1764307200123000000,
        trace_id=TRACE_HEX,
        span_id="00f067aa0ba902b7",
        name="click",
        service_name="shop-web",
        parent_span_id="",
        kind="Internal",
        duration_ns=2_500_000,
        status_code="Unset",
        resource_attributes=RESOURCE,
        scope_name="@opentelemetry/instrumentation-user-interaction",
        scope_version="0.62.0",
        attributes={
            "event_type": "click",
            "target_element": "BUTTON",
            "target_xpath": '//*[@id="checkout"]/button[2]',
            "http.url": "https://shop.example/cart",
            "component": "user-interaction",
            "location.href": "https://shop.example/cart",
            "user.email": "ann@example.com",
        },
        client=CLIENT,
    )
    assert vitals == SpanRecord(
        session_id=sample.SESSION,
        timestamp_ns=1764307201000000000,
        trace_id="a1b2c3d4e5f60718293a4b5c6d7e8f90",
        span_id="1111111111111111",
        name="webvitals",
        service_name="shop-web",
        kind="Internal",
        duration_ns=0,
        resource_attributes=RESOURCE,
        scope_name="webvitals",
        attributes={
            "lcp": "1234.5",
            "cls": "0",
            "screen.depth": "24",
            "webvitals.navigation_type": "navigate",
            "webvitals.metric_id": "v3-1764307200000-8213",
            "location.href": "https://shop.example/cart",
        },
        client=CLIENT,
    )
    # console.log: no span any more, a log record in otel_logs' shape instead.
    assert console_log == LogRecord(
        session_id=sample.SESSION,
        timestamp_ns=1764307200124000000,
        service_name="shop-web",
        body='cart loaded {"items":3}',
        observed_timestamp_ns=1764307200124000000,
        trace_id=TRACE_HEX,
        span_id="2222222222222222",
        trace_flags=1,
        severity_text="info",
        severity_number=9,
        resource_attributes=RESOURCE,
        scope_name="console",
        attributes={"component": "console", "location.href": "https://shop.example/cart"},
        client=CLIENT,
    )
    error_attributes = {
        "component": "error",
        "error": "true",
        "error.object": "TypeError",
        "error.message": "cart.items is undefined",
        "error.stack": "TypeError: cart.items is undefined\n    at render (app.js:10:5)",
    }
    # console.error: the span stays (errors are counted on traces) ...
    assert error_span == SpanRecord(
        session_id=sample.SESSION,
        timestamp_ns=1764307202000000000,
        trace_id="0af7651916cd43dd8448eb211c80319c",
        span_id="b7ad6b7169203331",
        name="console.error",
        service_name="shop-web",
        kind="Internal",
        status_code="Error",
        status_message="cart.items is undefined",
        resource_attributes=RESOURCE,
        scope_name="errors",
        attributes=error_attributes,
        events=[
            SpanEvent(
                1764307202000000000,
                "exception",
                {"exception.type": "TypeError", "exception.message": "cart.items is undefined"},
            )
        ],
        client=CLIENT,
    )
    # ... and a log record with severity error joins the console output.
    assert error_log == LogRecord(
        session_id=sample.SESSION,
        timestamp_ns=1764307202000000000,
        service_name="shop-web",
        body="cart.items is undefined",
        observed_timestamp_ns=1764307202000000000,
        trace_id="0af7651916cd43dd8448eb211c80319c",
        span_id="b7ad6b7169203331",
        trace_flags=1,
        severity_text="error",
        severity_number=17,
        resource_attributes=RESOURCE,
        scope_name="errors",
        attributes={k: v for k, v in error_attributes.items() if k != "error.message"},
        client=CLIENT,
    )


def test_json_and_protobuf_of_one_request_flatten_alike() -> None:
    as_json = flatten_traces(
        parse(TRACES, Encoding.JSON, sample.json_bytes(sample.hyperdx_traces())), CLIENT
    )
    protobuf = sample.protobuf_traces(sample.hyperdx_traces()).SerializeToString()
    as_protobuf = flatten_traces(parse(TRACES, Encoding.PROTOBUF, protobuf), CLIENT)
    assert as_protobuf.records == as_json.records


def test_gzipped_protobuf_replay_logs_flatten_to_replay_chunks() -> None:
    body = sample.gzipped(sample.replay_log_request().SerializeToString())
    payload = decompress(body, "gzip", limit=1 << 20)
    out = flatten_logs(parse(LOGS, Encoding.PROTOBUF, payload), CLIENT)

    assert out.received == 2
    meta, snapshot = out.records
    assert meta == ReplayChunk(
        session_id=sample.SESSION,
        timestamp_ns=1764307200100000000,
        service_name="shop-web",
        body='{"type":4,"data":{"href":"https://shop.example/cart"},"timestamp":1764307200100}',
        resource_attributes=RESOURCE,
        scope_name="rum.rr-web",
        scope_version="3.0.0",
        attributes={
            "rr-web.offset": "1",
            "rr-web.event": "1",
            "rr-web.chunk": "1",
            "rr-web.total-chunks": "1",
        },
        client=CLIENT,
    )
    assert isinstance(snapshot, ReplayChunk)
    assert (
        snapshot.body
        == '{"type":2,"data":{"node":{"type":0,"childNodes":[]}},"timestamp":1764307200101}'
    )
    assert (snapshot.event_ordinal, snapshot.chunk, snapshot.total_chunks) == (2, 1, 1)
    assert snapshot.timestamp_ns == 1764307200101000000


def test_ordinary_logs_and_their_timestamp_fallbacks() -> None:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.append(
        KeyValue(key="service.name", value=AnyValue(string_value="billing"))
    )
    resource_logs.schema_url = "https://opentelemetry.io/schemas/1.26.0"
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "billing.jobs"
    scope_logs.scope.attributes.append(KeyValue(key="tier", value=AnyValue(int_value=2)))
    timed, observed_only, untimed = (scope_logs.log_records.add() for _ in range(3))
    timed.time_unix_nano = 10
    timed.observed_time_unix_nano = 20
    timed.severity_text = "WARN"
    timed.severity_number = 13
    timed.event_name = "invoice.late"
    timed.trace_id = bytes.fromhex(TRACE_HEX)
    timed.span_id = bytes.fromhex("00f067aa0ba902b7")
    timed.flags = 0x101
    timed.body.int_value = 7
    observed_only.observed_time_unix_nano = 30
    untimed.attributes.append(KeyValue(key="rr-web", value=AnyValue(string_value="not replay")))

    out = flatten_logs(request, CLIENT)

    first, second, third = out.records
    assert first == LogRecord(
        session_id="",
        timestamp_ns=10,
        service_name="billing",
        body="7",
        observed_timestamp_ns=20,
        trace_id=TRACE_HEX,
        span_id="00f067aa0ba902b7",
        trace_flags=1,
        severity_text="WARN",
        severity_number=13,
        event_name="invoice.late",
        resource_schema_url="https://opentelemetry.io/schemas/1.26.0",
        resource_attributes={"service.name": "billing"},
        scope_name="billing.jobs",
        scope_attributes={"tier": "2"},
        client=CLIENT,
    )
    assert second.timestamp_ns == 30
    assert third.timestamp_ns == CLIENT.received_at_ns  # neither time set: arrival time
    assert type(third) is LogRecord


def test_browser_records_without_session_are_rejected_with_a_reason() -> None:
    request = parse(
        TRACES, Encoding.JSON, sample.json_bytes(sample.hyperdx_traces(session_id=None))
    )
    out = flatten_traces(request, CLIENT)
    assert out.records == []
    assert out.rejected == {"no_session": 4}
    assert out.rejection_message("spans") == (
        "4 of 4 spans rejected: 4 browser resource (rum.* attributes) without "
        "rum.sessionId; the HyperDX SDK sets it on every export once its session exists"
    )


def test_server_side_records_are_accepted_without_session() -> None:
    assert session_of({"service.name": "api", "host.name": "web-1"}) == ""
    assert session_of({"rum.version": "0.19.0"}) is None
    assert session_of({"rum.sessionId": "abc", "rum.version": "1"}) == "abc"
    document = {
        "resourceSpans": [
            {
                "resource": {"attributes": [sample.s("service.name", "api")]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": TRACE_HEX,
                                "spanId": "00f067aa0ba902b7",
                                "name": "GET /cart",
                                "kind": 2,
                                "startTimeUnixNano": "100",
                                "endTimeUnixNano": "350",
                                "traceState": "vendor=1",
                                "links": [
                                    {
                                        "traceId": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
                                        "spanId": "1111111111111111",
                                        "attributes": [sample.s("link.kind", "follows")],
                                    }
                                ],
                                "status": {"code": 1},
                            }
                        ]
                    }
                ],
            }
        ]
    }
    (span,) = flatten_traces(
        parse(TRACES, Encoding.JSON, sample.json_bytes(document)), CLIENT
    ).records
    assert isinstance(span, SpanRecord)
    assert (span.session_id, span.kind, span.status_code, span.duration_ns) == (
        "",
        "Server",
        "Ok",
        250,
    )
    assert span.trace_state == "vendor=1"
    assert span.links == [
        SpanLink(
            "a1b2c3d4e5f60718293a4b5c6d7e8f90", "1111111111111111", "", {"link.kind": "follows"}
        )
    ]


def test_spans_with_invalid_ids_are_rejected_alone() -> None:
    request = sample.protobuf_traces(sample.hyperdx_traces())
    spans = request.resource_spans[0].scope_spans
    spans[0].spans[0].trace_id = b"\x00" * 16
    spans[1].spans[0].span_id = b"\x01\x02"
    spans[2].spans[0].parent_span_id = b"\x01"
    out = flatten_traces(request, CLIENT)
    assert out.rejected == {"bad_trace_id": 1, "bad_span_id": 1, "bad_parent_span_id": 1}
    assert [r.name if isinstance(r, SpanRecord) else "log" for r in out.records] == [
        "console.error",
        "log",
    ]


def test_console_levels_map_to_otel_severities() -> None:
    assert severity_of("log") == ("info", 9)
    assert severity_of("info") == ("info", 9)
    assert severity_of("warn") == ("warn", 13)
    assert severity_of("debug") == ("debug", 5)
    assert severity_of("ERROR") == ("error", 17)
    assert severity_of("table") == ("table", 0)


def test_uncaught_errors_stay_spans_and_become_error_logs() -> None:
    from exos_common.messages import LogRecord, SpanRecord
    from exos_ingest.console import console_records

    onerror = SpanRecord(
        session_id="s1",
        timestamp_ns=5,
        trace_id="a" * 32,
        span_id="b" * 16,
        name="onerror",
        service_name="web",
        attributes={"component": "error", "error.message": "boom", "error.stack": "at x"},
    )
    span, log = console_records(onerror, trace_flags=1)
    assert span is onerror
    assert isinstance(log, LogRecord)
    assert (log.severity_text, log.severity_number, log.body) == ("error", 17, "boom")
    assert log.attributes["error.stack"] == "at x"
    click = SpanRecord("s1", 5, "a" * 32, "c" * 16, "click", "web", attributes={})
    assert console_records(click, trace_flags=1) == [click]
