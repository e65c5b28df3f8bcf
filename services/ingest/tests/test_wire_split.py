"""Parsing a large protobuf export in pieces gives the records a one-call parse gives."""

from __future__ import annotations

import pytest
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from exos_common.messages import ClientContext
from exos_ingest.flatten import flatten_logs, flatten_traces
from exos_ingest.wire_split import parse_in_pieces

CLIENT = ClientContext(received_at_ns=1_764_307_210_000_000_000)


def big_traces() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for r in range(2):
        resource_spans = request.resource_spans.add(schema_url=f"https://schema/{r}")
        resource_spans.resource.attributes.add(
            key="service.name", value=AnyValue(string_value=f"svc{r}")
        )
        for s in range(3):
            scope = resource_spans.scope_spans.add()
            scope.scope.name = f"scope{s}"
            for i in range(40):
                span = scope.spans.add(
                    trace_id=bytes([r + 1]) * 16,
                    span_id=(1000 * s + i + 1).to_bytes(8, "big"),
                    name=f"span {r}/{s}/{i}",
                    start_time_unix_nano=1_764_307_200_000_000_000 + i,
                )
                span.attributes.add(key="i", value=AnyValue(int_value=i))
        resource_spans.scope_spans.add().scope.name = "empty scope"
    request.resource_spans.add()  # an empty resource
    return request


def test_pieces_give_the_same_records_as_one_parse() -> None:
    payload = big_traces().SerializeToString()
    whole = ExportTraceServiceRequest.FromString(payload)
    pieces = ExportTraceServiceRequest()
    parse_in_pieces(pieces, payload, piece_bytes=300)
    # 2 resources x 3 scopes x 40 spans of ~60 bytes: many more entries than scopes.
    assert len(pieces.resource_spans) > 7
    assert flatten_traces(pieces, CLIENT) == flatten_traces(whole, CLIENT)
    assert len(flatten_traces(pieces, CLIENT).records) == 240


def test_log_exports_split_the_same_way() -> None:
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    for i in range(100):
        scope.log_records.add(
            time_unix_nano=1_764_307_200_000_000_000 + i
        ).body.string_value = f"line {i}"
    payload = request.SerializeToString()
    pieces = ExportLogsServiceRequest()
    parse_in_pieces(pieces, payload, piece_bytes=256)
    assert len(pieces.resource_logs) > 1
    whole = ExportLogsServiceRequest.FromString(payload)
    assert flatten_logs(pieces, CLIENT) == flatten_logs(whole, CLIENT)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x0a\xff\xff\xff\xff\x0f" + b"x" * 400,  # a length past the end
        b"\x0b" + b"x" * 400,  # a group (wire type 3)
        big_traces().SerializeToString()[:-7],  # truncated
    ],
)
def test_malformed_payloads_still_raise_decode_error(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_in_pieces(ExportTraceServiceRequest(), payload, piece_bytes=64)
