"""Request bytes -> OTLP protobuf message: media type, content coding, payload decoding.

Parsing always produces the official `Export*ServiceRequest` classes, for protobuf and
JSON alike, so both encodings are held to the same schema. OTLP/JSON goes through
`otlp_json` (a descriptor-driven walker, several times faster than `json_format`), and
through `json_format` only for the shapes the walker declines. Every failure is an
`IngestError` naming the HTTP status the spec asks for (400 bad data, 413 too large,
415 unsupported media type or coding).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from exos_ingest import otlp_json
from exos_ingest.errors import IngestError
from exos_ingest.wire_split import parse_in_pieces


class Encoding(StrEnum):
    PROTOBUF = "protobuf"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class Signal:
    name: str  # "traces" | "logs" | "metrics": the URL path and the metrics label
    request: type[Message]
    response: type[Message]


TRACES = Signal(
    "traces",
    trace_service_pb2.ExportTraceServiceRequest,
    trace_service_pb2.ExportTraceServiceResponse,
)
LOGS = Signal(
    "logs",
    logs_service_pb2.ExportLogsServiceRequest,
    logs_service_pb2.ExportLogsServiceResponse,
)
METRICS = Signal(
    "metrics",
    metrics_service_pb2.ExportMetricsServiceRequest,
    metrics_service_pb2.ExportMetricsServiceResponse,
)

_MEDIA_TYPES = {
    "application/x-protobuf": Encoding.PROTOBUF,
    "application/protobuf": Encoding.PROTOBUF,
    "application/json": Encoding.JSON,
}


def encoding_of(content_type: str | None) -> Encoding:
    """The payload encoding named by `Content-Type` (parameters such as charset ignored)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    encoding = _MEDIA_TYPES.get(media_type)
    if encoding is None:
        shown = media_type or "none"
        raise IngestError(
            415,
            "unsupported_media_type",
            f"unsupported Content-Type {shown!r}: send application/x-protobuf or application/json",
        )
    return encoding


# ---- content coding -------------------------------------------------------------------

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_DEFLATE_WBITS = -zlib.MAX_WBITS


def decompress(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo `Content-Encoding` (gzip, deflate, identity; a list is undone right to left),
    never producing more than `limit` bytes, so a small gzip bomb cannot fill memory."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            body = _inflate(body, _GZIP_WBITS, limit, coding)
        elif coding == "deflate":
            body = _inflate(body, _deflate_wbits(body), limit, coding)
        elif coding != "identity":
            raise IngestError(
                415,
                "unsupported_content_encoding",
                f"unsupported Content-Encoding {coding!r}: send gzip, deflate or identity",
            )
    if len(body) > limit:
        raise _too_large_decompressed(limit)
    return body


def _deflate_wbits(body: bytes) -> int:
    # HTTP "deflate" means zlib-wrapped (RFC 9110), but some clients send raw deflate;
    # a zlib stream is recognisable by its two-byte header checksum.
    if len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0:
        return _ZLIB_WBITS
    return _RAW_DEFLATE_WBITS


def _inflate(body: bytes, wbits: int, limit: int, coding: str) -> bytes:
    out = bytearray()
    pending = body
    while True:
        inflater = zlib.decompressobj(wbits)
        try:
            while True:
                # max_length caps every step, so the output never exceeds limit + 1.
                step = inflater.decompress(pending, limit + 1 - len(out))
                out += step
                if len(out) > limit:
                    raise _too_large_decompressed(limit)
                if inflater.eof:
                    break
                # zlib may hold output back when max_length stopped it; it comes out on
                # the next call even without new input, so only an empty step with no
                # input left means the stream ended early.
                if not step and not inflater.unconsumed_tail:
                    raise IngestError(400, "bad_encoding", f"truncated {coding} body")
                pending = inflater.unconsumed_tail
        except zlib.error as exc:
            raise IngestError(400, "bad_encoding", f"invalid {coding} body: {exc}") from exc
        # gzip allows several members back to back (`cat a.gz b.gz`); trailing zero
        # padding is tolerated as gzip(1) does.
        pending = inflater.unused_data
        if wbits != _GZIP_WBITS or not pending.strip(b"\x00"):
            return bytes(out)


def _too_large_decompressed(limit: int) -> IngestError:
    return IngestError(
        413,
        "decompressed_too_large",
        f"decompressed body exceeds {limit} bytes (EXOS_INGEST_MAX_DECOMPRESSED_BYTES)",
    )


# ---- payload decoding -----------------------------------------------------------------


def parse(signal: Signal, encoding: Encoding, payload: bytes) -> Any:
    """Decode an `Export*ServiceRequest` from protobuf or OTLP/JSON bytes."""
    message = signal.request()
    if encoding is Encoding.PROTOBUF:
        try:
            parse_in_pieces(message, payload)
        except DecodeError as exc:
            raise IngestError(
                400, "bad_protobuf", f"body is not a valid protobuf {_name(signal)}: {exc}"
            ) from exc
        return message
    document = load_json(signal, payload)
    try:
        otlp_json.fill(message, document)
        return message
    except otlp_json.NotPlain:
        message = signal.request()
    return parse_json_with_json_format(signal, message, document)


def load_json(signal: Signal, payload: bytes) -> dict[str, Any]:
    """The JSON object of an OTLP/JSON body (lone surrogates replaced, see below)."""
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        document = _loads_with_lone_surrogates(payload, exc)
    if not isinstance(document, dict):
        raise IngestError(400, "bad_json", f"{_name(signal)} must be a JSON object")
    return document


def parse_json_with_json_format(signal: Signal, message: Any, document: dict[str, Any]) -> Any:
    """The general OTLP/JSON decoder, for what `otlp_json` does not take: slower, and the
    judge of what is valid (its error becomes the 400 message)."""
    _HEX_ID_FIXERS[signal.name](document)
    try:
        # OTLP/JSON receivers must ignore unknown fields (forward compatibility).
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise IngestError(
            400, "bad_json", f"body is not a valid OTLP/JSON {_name(signal)}: {exc}"
        ) from exc
    return message


def _loads_with_lone_surrogates(payload: bytes, error: orjson.JSONDecodeError) -> Any:
    """JSON.stringify writes a lone UTF-16 surrogate as a `\\udXXX` escape (a string cut
    in the middle of an emoji, as the SDK's 1024-char error messages can be); orjson
    refuses those. They are read with the standard parser and replaced by U+FFFD, so one
    cut emoji does not cost the whole batch. Any other JSON error is a 400."""
    if "surrogate" not in str(error):
        raise IngestError(400, "bad_json", f"body is not valid JSON: {error}") from error
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise IngestError(400, "bad_json", f"body is not valid JSON: {exc}") from exc
    return _without_surrogates(document)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(document: Any) -> Any:
    # Iterative: the document may be as deep as the parser allowed.
    root = [document]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        value = container[key]
        if isinstance(value, str):
            container[key] = _SURROGATE.sub("\ufffd", value)
        elif isinstance(value, list):
            stack.extend((value, i) for i in range(len(value)))
        elif isinstance(value, dict):
            fixed = {_SURROGATE.sub("\ufffd", k): v for k, v in value.items()}
            container[key] = fixed
            stack.extend((fixed, k) for k in fixed)
    return root[0]


def _name(signal: Signal) -> str:
    return str(signal.request.DESCRIPTOR.name)


# OTLP/JSON writes trace and span ids as hex, where the proto3 JSON mapping (which
# json_format implements) expects base64 for bytes fields. Only the id fields are
# rewritten, on the paths where OTLP has them; both the camelCase names the spec uses
# and the proto names json_format also accepts are handled.


def _items(node: Any, *names: str) -> Iterable[dict[str, Any]]:
    if not isinstance(node, dict):
        return ()
    for name in names:
        value = node.get(name)
        if isinstance(value, list):
            return (item for item in value if isinstance(item, dict))
    return ()


# What a non-hex id becomes: one byte, a length no id has, so the record it belongs to
# is rejected on its own (partial_success) instead of failing the whole request.
_UNREADABLE_ID = base64.b64encode(b"\xff").decode("ascii")


def _hex_to_base64(node: dict[str, Any], *names: str) -> None:
    for name in names:
        value = node.get(name)
        if not isinstance(value, str) or not value:
            continue
        try:
            raw = binascii.unhexlify(value)
        except (binascii.Error, ValueError):
            node[name] = _UNREADABLE_ID
            continue
        node[name] = base64.b64encode(raw).decode("ascii")


_TRACE_ID = ("traceId", "trace_id")
_SPAN_ID = ("spanId", "span_id")
_PARENT_SPAN_ID = ("parentSpanId", "parent_span_id")


def _fix_trace_ids(document: dict[str, Any]) -> None:
    for resource in _items(document, "resourceSpans", "resource_spans"):
        for scope in _items(resource, "scopeSpans", "scope_spans"):
            for span in _items(scope, "spans"):
                _hex_to_base64(span, *_TRACE_ID, *_SPAN_ID, *_PARENT_SPAN_ID)
                for link in _items(span, "links"):
                    _hex_to_base64(link, *_TRACE_ID, *_SPAN_ID)


def _fix_log_ids(document: dict[str, Any]) -> None:
    for resource in _items(document, "resourceLogs", "resource_logs"):
        for scope in _items(resource, "scopeLogs", "scope_logs"):
            for record in _items(scope, "logRecords", "log_records"):
                _hex_to_base64(record, *_TRACE_ID, *_SPAN_ID)


_METRIC_DATA = (
    "gauge",
    "sum",
    "histogram",
    "exponentialHistogram",
    "exponential_histogram",
    "summary",
)


def _fix_metric_ids(document: dict[str, Any]) -> None:
    for resource in _items(document, "resourceMetrics", "resource_metrics"):
        for scope in _items(resource, "scopeMetrics", "scope_metrics"):
            for metric in _items(scope, "metrics"):
                for kind in _METRIC_DATA:
                    for point in _items(metric.get(kind), "dataPoints", "data_points"):
                        for exemplar in _items(point, "exemplars"):
                            _hex_to_base64(exemplar, *_TRACE_ID, *_SPAN_ID)


_HEX_ID_FIXERS: dict[str, Callable[[dict[str, Any]], None]] = {
    TRACES.name: _fix_trace_ids,
    LOGS.name: _fix_log_ids,
    METRICS.name: _fix_metric_ids,
}
