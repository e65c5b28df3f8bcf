"""A rendered session as the HTTP requests the browser would make: spans as OTLP/JSON
to `/v1/traces` (the SDK's OTLPTraceExporter: uncompressed JSON, hex ids, times as
strings), rrweb events as gzipped protobuf logs to `/v1/logs` (the session recorder:
one log record per <= 950 KiB chunk of an event's JSON, scope `rum.rr-web`, the four
`rr-web.*` attributes as doubles). Bodies are byte-for-byte deterministic (gzip with
mtime 0), so a reload of the same seed sends the same requests.

The loader sends one session's requests in order, traces first: every click is then
waiting in enrich when the replay that decides whether it was dead arrives.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue

from exos.demo.browser import RECORDER_SCOPE, AttrValue, Span
from exos.demo.people import PORTAL_ORIGIN
from exos.demo.rrweb import META
from exos.demo.sessions import RenderedSession

MAX_CHUNK_BYTES = 950 * 1024  # the recorder's MAX_CHUNK_SIZE
SPANS_PER_REQUEST = 150
RECORDS_PER_REQUEST = 400
REPLAY_BYTES_PER_REQUEST = 4 * 1024 * 1024
CONSOLE_SPANS = frozenset({"console.log", "console.info", "console.warn", "console.debug"})


@dataclass(frozen=True, slots=True)
class OtlpRequest:
    path: str  # /v1/traces or /v1/logs
    body: bytes
    content_type: str
    content_encoding: str | None
    spans: int = 0  # spans in the body (console ones included)
    console: int = 0  # of which console.* spans (ingest makes them log records)
    rrweb_events: int = 0  # rrweb events whose last chunk is in the body
    chunks: int = 0  # log records (rrweb chunks)


def any_value(value: AttrValue) -> dict[str, Any]:
    """An attribute value as OTel JS's JSON serializer writes it (integral numbers are
    intValue, as `Number.isInteger` decides)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": value}
    if isinstance(value, float):
        return {"intValue": int(value)} if value.is_integer() else {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [{"stringValue": v} for v in value]}}
    return {"stringValue": value}


def _attributes(pairs: Sequence[tuple[str, AttrValue]]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in pairs]


def _span_json(span: Span) -> dict[str, Any]:
    out: dict[str, Any] = {"traceId": span.trace_id, "spanId": span.span_id}
    if span.parent_id:
        out["parentSpanId"] = span.parent_id
    status: dict[str, Any] = {"code": span.status}
    if span.status_message:
        status["message"] = span.status_message
    out |= {
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "attributes": _attributes(span.attributes),
        "droppedAttributesCount": 0,
        "events": [
            {
                "timeUnixNano": str(at),
                "name": name,
                "attributes": _attributes(attrs),
                "droppedAttributesCount": 0,
            }
            for at, name, attrs in span.events
        ],
        "droppedEventsCount": 0,
        "status": status,
        "links": [],
        "droppedLinksCount": 0,
        "flags": 257,
    }
    return out


def _resource(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {"attributes": _attributes(pairs), "droppedAttributesCount": 0}


def traces_body(session: RenderedSession, spans: Sequence[Span]) -> bytes:
    """One export of spans in time order. The SDK's JSON serializer groups a batch by
    resource and scope; its batches span at most 4 s, ours up to 150 spans over minutes,
    so grouping by scope would make ingest see (say) every fetch of the batch before
    its first click. Consecutive runs of one scope keep time order instead: still
    valid OTLP (a scope may appear more than once), the same spans, the same
    attributes."""
    resource_spans: list[dict[str, Any]] = []
    current_load = -1
    current_scope: tuple[str, str] | None = None
    group: list[dict[str, Any]] = []
    for span in spans:
        if span.load != current_load:
            current_load, current_scope = span.load, None
            resource_spans.append(
                {"resource": _resource(session.resources[span.load]), "scopeSpans": []}
            )
        if span.scope != current_scope:
            current_scope = span.scope
            name, version = span.scope
            scope: dict[str, Any] = {"name": name}
            if version:
                scope["version"] = version
            group = []
            resource_spans[-1]["scopeSpans"].append({"scope": scope, "spans": group})
        group.append(_span_json(span))
    return orjson.dumps({"resourceSpans": resource_spans})


def _any_value_pb(value: AttrValue) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return (
            AnyValue(int_value=int(value)) if value.is_integer() else AnyValue(double_value=value)
        )
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[AnyValue(string_value=v) for v in value]))
    return AnyValue(string_value=value)


def traces_body_protobuf(session: RenderedSession, spans: Sequence[Span]) -> bytes:
    """The same export as binary protobuf (what the OpenTelemetry JS proto exporter
    sends): same spans, same grouping."""
    request = ExportTraceServiceRequest()
    current_load = -1
    current_scope: tuple[str, str] | None = None
    resource_spans = scope_spans = None
    for span in spans:
        if span.load != current_load or resource_spans is None:
            current_load, current_scope = span.load, None
            resource_spans = request.resource_spans.add()
            for key, text in session.resources[span.load]:
                resource_spans.resource.attributes.append(
                    KeyValue(key=key, value=AnyValue(string_value=text))
                )
        if span.scope != current_scope or scope_spans is None:
            current_scope = span.scope
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name, scope_spans.scope.version = span.scope
        out = scope_spans.spans.add()
        out.trace_id = bytes.fromhex(span.trace_id)
        out.span_id = bytes.fromhex(span.span_id)
        if span.parent_id:
            out.parent_span_id = bytes.fromhex(span.parent_id)
        out.name = span.name
        out.kind = span.kind
        out.start_time_unix_nano = span.start_ns
        out.end_time_unix_nano = span.end_ns
        out.flags = 257
        for key, value in span.attributes:
            out.attributes.append(KeyValue(key=key, value=_any_value_pb(value)))
        for at, name, attrs in span.events:
            event = out.events.add()
            event.time_unix_nano, event.name = at, name
            for key, value in attrs:
                event.attributes.append(KeyValue(key=key, value=_any_value_pb(value)))
        out.status.code = span.status
        if span.status_message:
            out.status.message = span.status_message
    body: bytes = request.SerializeToString()
    return body


def trace_requests(session: RenderedSession, encoding: str = "json") -> Iterator[OtlpRequest]:
    """`json`: OTLP/JSON, what the HyperDX SDK sends (the default); `protobuf`: binary,
    several times cheaper for ingest to decode."""
    spans = session.spans
    for i in range(0, len(spans), SPANS_PER_REQUEST):
        batch = spans[i : i + SPANS_PER_REQUEST]
        protobuf = encoding == "protobuf"
        yield OtlpRequest(
            path="/v1/traces",
            body=traces_body_protobuf(session, batch) if protobuf else traces_body(session, batch),
            content_type="application/x-protobuf" if protobuf else "application/json",
            content_encoding=None,
            spans=len(batch),
            console=sum(1 for s in batch if s.name in CONSOLE_SPANS),
        )


@dataclass(frozen=True, slots=True)
class ReplayChunk:
    load: int
    timestamp_ms: int
    body: str
    event: int  # rr-web.event (1-based event ordinal in the session)
    offset: int  # rr-web.offset (1-based chunk ordinal in the session)
    chunk: int  # rr-web.chunk, 1..total
    total: int  # rr-web.total-chunks


def replay_chunks(session: RenderedSession) -> list[ReplayChunk]:
    """The recorder's chunking: each event's JSON, sliced every 950 KiB of UTF-8 (each
    slice decoded on its own, as the recorder does)."""
    out: list[ReplayChunk] = []
    load = -1
    offset = 0
    for ordinal, event in enumerate(session.rrweb_events, start=1):
        if event["type"] == META:
            load += 1
        raw = orjson.dumps(event)
        total = max(1, -(-len(raw) // MAX_CHUNK_BYTES))
        for index in range(total):
            offset += 1
            piece = raw[index * MAX_CHUNK_BYTES : (index + 1) * MAX_CHUNK_BYTES]
            out.append(
                ReplayChunk(
                    load=max(load, 0),
                    timestamp_ms=event["timestamp"],
                    body=piece.decode("utf-8", errors="replace"),
                    event=ordinal,
                    offset=offset,
                    chunk=index + 1,
                    total=total,
                )
            )
    return out


def logs_body(session: RenderedSession, chunks: Sequence[ReplayChunk]) -> bytes:
    request = ExportLogsServiceRequest()
    current_load = None
    scope_logs = None
    for chunk in chunks:
        if chunk.load != current_load or scope_logs is None:
            current_load = chunk.load
            resource_logs = request.resource_logs.add()
            for key, value in session.resources[chunk.load]:
                resource_logs.resource.attributes.append(
                    KeyValue(key=key, value=AnyValue(string_value=value))
                )
            scope_logs = resource_logs.scope_logs.add()
            scope_logs.scope.name, scope_logs.scope.version = RECORDER_SCOPE
        record = scope_logs.log_records.add()
        record.time_unix_nano = chunk.timestamp_ms * 1_000_000
        record.body.string_value = chunk.body
        for key, number in (
            ("rr-web.offset", chunk.offset),
            ("rr-web.event", chunk.event),
            ("rr-web.chunk", chunk.chunk),
            ("rr-web.total-chunks", chunk.total),
        ):
            record.attributes.append(KeyValue(key=key, value=AnyValue(double_value=float(number))))
    return gzip.compress(request.SerializeToString(), compresslevel=6, mtime=0)


def replay_requests(session: RenderedSession) -> Iterator[OtlpRequest]:
    batch: list[ReplayChunk] = []
    size = 0
    for chunk in replay_chunks(session):
        if batch and (
            len(batch) >= RECORDS_PER_REQUEST or size + len(chunk.body) > REPLAY_BYTES_PER_REQUEST
        ):
            yield _replay_request(session, batch)
            batch, size = [], 0
        batch.append(chunk)
        size += len(chunk.body)
    if batch:
        yield _replay_request(session, batch)


def _replay_request(session: RenderedSession, batch: list[ReplayChunk]) -> OtlpRequest:
    return OtlpRequest(
        path="/v1/logs",
        body=logs_body(session, batch),
        content_type="application/x-protobuf",
        content_encoding="gzip",
        rrweb_events=sum(1 for c in batch if c.chunk == c.total),
        chunks=len(batch),
    )


def session_requests(session: RenderedSession, encoding: str = "json") -> Iterator[OtlpRequest]:
    """Everything the session sends, in the order the loader sends it."""
    yield from trace_requests(session, encoding)
    yield from replay_requests(session)


def session_headers(session: RenderedSession, api_key: str | None) -> dict[str, str]:
    """What the operator's browser adds: its User-Agent and language, the portal as
    Origin/Referer, and (believed only behind a trusted proxy) the operator's IP."""
    seat = session.plan.operator.seat
    language = seat.language
    headers = {
        "user-agent": seat.user_agent,
        "accept-language": f"{language},{language.split('-')[0]};q=0.9",
        "origin": PORTAL_ORIGIN,
        "referer": PORTAL_ORIGIN + "/",
        "x-forwarded-for": session.plan.operator.ip,
    }
    if api_key:
        headers["authorization"] = api_key
    return headers
