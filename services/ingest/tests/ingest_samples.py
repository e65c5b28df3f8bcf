"""Hand-made OTLP bodies shaped like what the HyperDX browser SDK sends (research note
hyperdx-contract.md, sections 1-3, and browser-sdk-observed.md). Tests compute their
expected records by hand from these literals."""

from __future__ import annotations

import gzip
import json
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

SESSION = "5f2c9a7e0b1d4c3e8a6f2b9d0c1e3a4b"
TRACE = "4BF92F3577B34DA6A3CE929D0E0E4736"  # OTLP/JSON hex is case-insensitive
CLICK_SPAN = "00F067AA0BA902B7"
VITALS_TRACE = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
VITALS_SPAN = "1111111111111111"
CONSOLE_SPAN = "2222222222222222"
ERROR_TRACE = "0af7651916cd43dd8448eb211c80319c"
ERROR_SPAN = "b7ad6b7169203331"


def s(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def browser_resource(session_id: str | None = SESSION) -> dict[str, Any]:
    attributes = [
        s("browser.language", "de-DE"),
        s("hyperdx.browser.timezone", "Europe/Berlin"),
        s("telemetry.sdk.language", "webjs"),
        s("telemetry.sdk.name", "@hyperdx/otel-web"),
        s("service.name", "shop-web"),
        s("rum.version", "0.19.0"),
        s("rum.scriptInstance", "8d0a3f2c1b4e5d6a"),
    ]
    if session_id is not None:
        attributes.append(s("rum.sessionId", session_id))
    return {"attributes": attributes, "droppedAttributesCount": 0}


RESOURCE_ATTRIBUTES = {
    "browser.language": "de-DE",
    "hyperdx.browser.timezone": "Europe/Berlin",
    "telemetry.sdk.language": "webjs",
    "telemetry.sdk.name": "@hyperdx/otel-web",
    "service.name": "shop-web",
    "rum.version": "0.19.0",
    "rum.scriptInstance": "8d0a3f2c1b4e5d6a",
    "rum.sessionId": SESSION,
}


def click_span() -> dict[str, Any]:
    return {
        "traceId": TRACE,
        "spanId": CLICK_SPAN,
        "name": "click",
        "kind": 1,
        "startTimeUnixNano": "1764307200123000000",
        "endTimeUnixNano": "1764307200125500000",
        "attributes": [
            s("event_type", "click"),
            s("target_element", "BUTTON"),
            s("target_xpath", '//*[@id="checkout"]/button[2]'),
            s("http.url", "https://shop.example/cart"),
            s("component", "user-interaction"),
            s("location.href", "https://shop.example/cart"),
            s("user.email", "ann@example.com"),
        ],
        "droppedAttributesCount": 0,
        "events": [],
        "droppedEventsCount": 0,
        "status": {"code": 0},
        "links": [],
        "droppedLinksCount": 0,
        "flags": 257,
    }


def webvitals_span() -> dict[str, Any]:
    # Times as JSON numbers and an int64 as a string: both forms are valid OTLP/JSON.
    return {
        "traceId": VITALS_TRACE,
        "spanId": VITALS_SPAN,
        "name": "webvitals",
        "kind": 1,
        "startTimeUnixNano": 1764307201000000000,
        "endTimeUnixNano": 1764307201000000000,
        "attributes": [
            {"key": "lcp", "value": {"doubleValue": 1234.5}},
            {"key": "cls", "value": {"doubleValue": 0.0}},
            {"key": "screen.depth", "value": {"intValue": "24"}},
            s("webvitals.navigation_type", "navigate"),
            s("webvitals.metric_id", "v3-1764307200000-8213"),
            s("location.href", "https://shop.example/cart"),
        ],
        "status": {},
    }


def console_log_span() -> dict[str, Any]:
    return {
        "traceId": TRACE,
        "spanId": CONSOLE_SPAN,
        "parentSpanId": CLICK_SPAN,
        "name": "console.log",
        "kind": 1,
        "startTimeUnixNano": "1764307200124000000",
        "endTimeUnixNano": "1764307200124000000",
        "attributes": [
            s("component", "console"),
            s("level", "info"),
            s("message", 'cart loaded {"items":3}'),
            s("location.href", "https://shop.example/cart"),
        ],
        "flags": 1,
    }


def console_error_span() -> dict[str, Any]:
    return {
        "traceId": ERROR_TRACE,
        "spanId": ERROR_SPAN,
        "name": "console.error",
        "kind": 1,
        "startTimeUnixNano": "1764307202000000000",
        "endTimeUnixNano": "1764307202000000000",
        "attributes": [
            s("component", "error"),
            {"key": "error", "value": {"boolValue": True}},
            s("error.object", "TypeError"),
            s("error.message", "cart.items is undefined"),
            s("error.stack", "TypeError: cart.items is undefined\n    at render (app.js:10:5)"),
        ],
        "events": [
            {
                "timeUnixNano": "1764307202000000000",
                "name": "exception",
                "attributes": [
                    s("exception.type", "TypeError"),
                    s("exception.message", "cart.items is undefined"),
                ],
            }
        ],
        "status": {"code": 2, "message": "cart.items is undefined"},
        "flags": 1,
    }


def hyperdx_traces(session_id: str | None = SESSION) -> dict[str, Any]:
    """One OTLP/JSON body: a click, a web-vitals span, console.log and console.error."""
    return {
        "resourceSpans": [
            {
                "resource": browser_resource(session_id),
                "scopeSpans": [
                    {
                        "scope": {
                            "name": "@opentelemetry/instrumentation-user-interaction",
                            "version": "0.62.0",
                        },
                        "spans": [click_span()],
                    },
                    {"scope": {"name": "webvitals"}, "spans": [webvitals_span()]},
                    {"scope": {"name": "console"}, "spans": [console_log_span()]},
                    {"scope": {"name": "errors"}, "spans": [console_error_span()]},
                ],
            }
        ]
    }


def json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


# ---- replay: OTLP protobuf logs, gzip, as the session recorder sends them -------------

RRWEB_META = {"type": 4, "data": {"href": "https://shop.example/cart"}, "timestamp": 1764307200100}
RRWEB_SNAPSHOT = {
    "type": 2,
    "data": {"node": {"type": 0, "childNodes": []}},
    "timestamp": 1764307200101,
}


def _kv(key: str, value: AnyValue) -> KeyValue:
    return KeyValue(key=key, value=value)


def replay_log_request(
    session_id: str = SESSION, events: list[dict[str, Any]] | None = None, big_body: str = ""
) -> ExportLogsServiceRequest:
    """One log record per rrweb event (one chunk each), attributes as JS doubles."""
    events = [RRWEB_META, RRWEB_SNAPSHOT] if events is None else events
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    for key, value in RESOURCE_ATTRIBUTES.items():
        if key == "rum.sessionId":
            value = session_id
        resource_logs.resource.attributes.append(_kv(key, AnyValue(string_value=value)))
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "rum.rr-web"
    scope_logs.scope.version = "3.0.0"
    for ordinal, event in enumerate(events, start=1):
        record = scope_logs.log_records.add()
        record.time_unix_nano = event["timestamp"] * 1_000_000
        record.body.string_value = big_body or json.dumps(event, separators=(",", ":"))
        for key, number in (
            ("rr-web.offset", ordinal),
            ("rr-web.event", ordinal),
            ("rr-web.chunk", 1),
            ("rr-web.total-chunks", 1),
        ):
            record.attributes.append(_kv(key, AnyValue(double_value=float(number))))
    return request


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data)


def protobuf_traces(document: dict[str, Any]) -> ExportTraceServiceRequest:
    """The protobuf twin of an OTLP/JSON traces document (ids are hex there)."""
    from exos_ingest.otlp_decode import TRACES, Encoding, parse

    parsed: ExportTraceServiceRequest = parse(TRACES, Encoding.JSON, json_bytes(document))
    return parsed
