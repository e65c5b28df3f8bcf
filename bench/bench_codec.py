"""Pipeline message encoding: orjson (chosen) side by side with protobuf (OTLP messages).

Run: `uv run python bench/bench_codec.py [--records 20000]`

Both encode the same realistic browser span (HyperDX click span: ~12 resource and
~8 span attributes) and decode it back into `SpanRecord`, the object enrich and the
writer work with, so the protobuf column pays for the conversion it would need too.
Reports records/s for encode and decode, and bytes per record, raw and lz4-compressed
(the producer compresses batches with lz4).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import lz4.frame
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span

from exos_common import codec
from exos_common.messages import ClientContext, SpanRecord


def sample_span(i: int) -> SpanRecord:
    return SpanRecord(
        session_id="4bf92f3577b34da6a3ce929d0e0e4736",
        timestamp_ns=1_764_300_000_000_000_000 + i * 1_000_000,
        trace_id=f"{i:032x}",
        span_id=f"{i:016x}",
        name="click",
        service_name="appraisal-portal",
        kind="Internal",
        duration_ns=1_250_000,
        resource_attributes={
            "browser.language": "en-US",
            "hyperdx.browser.timezone": "America/Chicago",
            "telemetry.sdk.language": "webjs",
            "telemetry.sdk.name": "@hyperdx/otel-web",
            "telemetry.sdk.version": "0.19.0",
            "process.runtime.name": "browser",
            "service.name": "appraisal-portal",
            "rum.version": "0.19.0",
            "rum.scriptInstance": "a1b2c3d4e5f60718",
            "rum.sessionId": "4bf92f3577b34da6a3ce929d0e0e4736",
            "deployment.environment": "production",
            "app.version": "2.14.1",
        },
        scope_name="@opentelemetry/instrumentation-user-interaction",
        scope_version="0.62.0",
        attributes={
            "event_type": "click",
            "target_element": "BUTTON",
            "target_xpath": '//*[@id="order-1042"]/div[2]/button[1]',
            "http.url": "https://portal.example.test/orders/1042",
            "component": "user-interaction",
            "location.href": "https://portal.example.test/orders/1042",
            "userEmail": "ops.lead@example.test",
            "userName": "Ops Lead",
        },
        client=ClientContext(
            ip="203.0.113.7",
            user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36",
            accept_language="en-US,en;q=0.9",
            referer="https://portal.example.test/",
            received_at_ns=1_764_300_000_100_000_000,
        ),
    )


# --- protobuf: the OTLP messages, with server-side fields as extra resource attributes
_CLIENT_PREFIX = "exos.client."


def _kv(attributes: dict[str, str]) -> list[KeyValue]:
    return [KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in attributes.items()]


def _attrs(kvs: object) -> dict[str, str]:
    return {kv.key: kv.value.string_value for kv in kvs}  # type: ignore[attr-defined]


def proto_encode(record: SpanRecord) -> bytes:
    message = ResourceSpans()
    client = {
        _CLIENT_PREFIX + "ip": record.client.ip,
        _CLIENT_PREFIX + "user_agent": record.client.user_agent,
        _CLIENT_PREFIX + "accept_language": record.client.accept_language,
        _CLIENT_PREFIX + "referer": record.client.referer,
        _CLIENT_PREFIX + "received_at_ns": str(record.client.received_at_ns),
    }
    message.resource.attributes.extend(_kv(record.resource_attributes | client))
    scope_spans = message.scope_spans.add()
    scope_spans.scope.name = record.scope_name
    scope_spans.scope.version = record.scope_version
    span: Span = scope_spans.spans.add()
    span.trace_id = bytes.fromhex(record.trace_id)
    span.span_id = bytes.fromhex(record.span_id)
    span.name = record.name
    span.kind = Span.SPAN_KIND_INTERNAL
    span.start_time_unix_nano = record.timestamp_ns
    span.end_time_unix_nano = record.timestamp_ns + record.duration_ns
    span.attributes.extend(_kv(record.attributes))
    return message.SerializeToString()


def proto_decode(value: bytes) -> SpanRecord:
    message = ResourceSpans.FromString(value)
    resource = _attrs(message.resource.attributes)
    client = {
        k[len(_CLIENT_PREFIX) :]: resource.pop(k)
        for k in list(resource)
        if k.startswith(_CLIENT_PREFIX)
    }
    scope_spans = message.scope_spans[0]
    span = scope_spans.spans[0]
    return SpanRecord(
        session_id=resource.get("rum.sessionId", ""),
        timestamp_ns=span.start_time_unix_nano,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        name=span.name,
        service_name=resource.get("service.name", ""),
        kind="Internal",
        duration_ns=span.end_time_unix_nano - span.start_time_unix_nano,
        resource_attributes=resource,
        scope_name=scope_spans.scope.name,
        scope_version=scope_spans.scope.version,
        attributes=_attrs(span.attributes),
        client=ClientContext(
            ip=client["ip"],
            user_agent=client["user_agent"],
            accept_language=client["accept_language"],
            referer=client["referer"],
            received_at_ns=int(client["received_at_ns"]),
        ),
    )


def _rate(fn: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    fn()
    return count / (time.perf_counter() - started)


def run(count: int) -> None:
    records = [sample_span(i) for i in range(count)]
    headers = [(codec.SCHEMA_HEADER, b"span/1")]
    json_values = [codec.encode(r)[0] for r in records]
    proto_values = [proto_encode(r) for r in records]
    assert codec.decode(json_values[7], headers) == records[7]
    assert proto_decode(proto_values[7]) == records[7]

    rows = {
        "orjson (exos codec)": (
            _rate(lambda: [codec.encode(r) for r in records], count),
            _rate(lambda: [codec.decode(v, headers) for v in json_values], count),
            json_values,
        ),
        "protobuf (OTLP ResourceSpans)": (
            _rate(lambda: [proto_encode(r) for r in records], count),
            _rate(lambda: [proto_decode(v) for v in proto_values], count),
            proto_values,
        ),
    }
    print(f"{count} click spans, encode and decode into SpanRecord (higher is better)")
    columns = ("encode rec/s", "decode rec/s", "bytes/rec", "lz4 B/rec")
    print(f"{'codec':32} " + " ".join(f"{c:>13}" for c in columns))
    for name, (enc, dec, values) in rows.items():
        raw = sum(map(len, values)) / count
        packed = len(lz4.frame.compress(b"".join(values[:500]))) / min(500, count)
        print(f"{name:32} {enc:13,.0f} {dec:13,.0f} {raw:13.0f} {packed:13.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    run(parser.parse_args().records)
