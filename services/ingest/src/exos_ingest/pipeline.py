"""One request's CPU work, from body bytes to addressed bus records: decompress ->
parse -> flatten and validate -> correct clocks -> encode and route. Pure and
synchronous, so it runs on a worker thread and never on the event loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exos_common.bus import OutgoingRecord
from exos_common.messages import ClientContext
from exos_ingest.clock import correct_clocks
from exos_ingest.errors import IngestError
from exos_ingest.flatten import Flattened, count_data_points, flatten_logs, flatten_traces
from exos_ingest.limits import Limits
from exos_ingest.otlp_decode import METRICS, TRACES, Encoding, Signal, decompress, parse
from exos_ingest.routing import route


@dataclass(frozen=True, slots=True)
class RequestBody:
    signal: Signal
    encoding: Encoding
    body: bytes
    content_encoding: str | None
    client: ClientContext
    request_key: str


@dataclass(frozen=True, slots=True)
class PipelineLimits:
    max_decompressed_bytes: int
    max_json_bytes: int
    max_message_bytes: int
    records: Limits


@dataclass(slots=True)
class Prepared:
    flat: Flattened
    outgoing: list[OutgoingRecord] = field(default_factory=list)
    data_points: int = 0


def prepare(request: RequestBody, limits: PipelineLimits) -> Prepared:
    """Raises `IngestError` for a request refused as a whole."""
    payload = decompress(request.body, request.content_encoding, limits.max_decompressed_bytes)
    if request.encoding is Encoding.JSON and len(payload) > limits.max_json_bytes:
        raise IngestError(
            413,
            "json_too_large",
            f"decompressed OTLP/JSON body of {len(payload)} bytes exceeds "
            f"{limits.max_json_bytes} bytes (EXOS_INGEST_MAX_JSON_BYTES); send protobuf or "
            "smaller batches",
        )
    message: Any = parse(request.signal, request.encoding, payload)
    del payload  # the decoded message holds everything; free the bytes early
    if request.signal is METRICS:
        return Prepared(Flattened(), data_points=count_data_points(message))
    flatten = flatten_traces if request.signal is TRACES else flatten_logs
    flat = flatten(message, request.client, limits.records)
    del message
    correct_clocks(flat, request.client.received_at_ns, limits.records)
    routed = route(
        flat.records,
        request_key=request.request_key,
        max_message_bytes=limits.max_message_bytes,
    )
    if routed.too_large:
        flat.reject("too_large", routed.too_large)
    flat.records = []  # encoded now; the dataclasses are not needed any more
    return Prepared(flat, routed.outgoing)
