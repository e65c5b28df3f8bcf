"""Message models that travel on the pipeline topics.

Records are spans, log records and rrweb chunks, flattened the way the ClickHouse
tables store them (attribute values already strings, ids in hex, times in Unix
nanoseconds). Flattening once at ingest keeps enrich and the writer free of OTLP
structure. On the raw topics one Kafka message carries a `RecordBatch`: the records of
one session and one signal from one request, so Kafka's per-message cost is paid per
batch, not per span. The wire encoding and its versions live in `exos_common.codec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Attributes = dict[str, str]

SESSION_ID_ATTRIBUTE = "rum.sessionId"


@dataclass(slots=True)
class ClientContext:
    """What only the server sees about the sender of a request (for enrichment)."""

    ip: str = ""
    user_agent: str = ""
    accept_language: str = ""
    referer: str = ""
    received_at_ns: int = 0


@dataclass(slots=True)
class SpanEvent:
    timestamp_ns: int
    name: str
    attributes: Attributes = field(default_factory=dict)


@dataclass(slots=True)
class SpanLink:
    trace_id: str
    span_id: str
    trace_state: str = ""
    attributes: Attributes = field(default_factory=dict)


@dataclass(slots=True)
class SpanRecord:
    """One span, as a row of `otel_traces` will hold it."""

    session_id: str
    timestamp_ns: int
    trace_id: str
    span_id: str
    name: str
    service_name: str
    parent_span_id: str = ""
    trace_state: str = ""
    kind: str = "Internal"
    duration_ns: int = 0
    status_code: str = "Unset"
    status_message: str = ""
    resource_attributes: Attributes = field(default_factory=dict)
    scope_name: str = ""
    scope_version: str = ""
    attributes: Attributes = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    links: list[SpanLink] = field(default_factory=list)
    client: ClientContext = field(default_factory=ClientContext)


@dataclass(slots=True)
class LogRecord:
    """One log record, as a row of `otel_logs` (or, for replay, `hyperdx_sessions`)."""

    session_id: str
    timestamp_ns: int
    service_name: str
    body: str = ""
    observed_timestamp_ns: int = 0
    trace_id: str = ""
    span_id: str = ""
    trace_flags: int = 0
    severity_text: str = ""
    severity_number: int = 0
    event_name: str = ""
    resource_schema_url: str = ""
    resource_attributes: Attributes = field(default_factory=dict)
    scope_schema_url: str = ""
    scope_name: str = ""
    scope_version: str = ""
    scope_attributes: Attributes = field(default_factory=dict)
    attributes: Attributes = field(default_factory=dict)
    client: ClientContext = field(default_factory=ClientContext)


@dataclass(slots=True)
class ReplayChunk(LogRecord):
    """One chunk of one rrweb event, as the HyperDX recorder sends it: a log record whose
    body is a slice of the event's JSON and whose attributes number the event and chunk."""

    @property
    def event_ordinal(self) -> int:
        return _int_attribute(self.attributes, "rr-web.event")

    @property
    def chunk(self) -> int:
        return _int_attribute(self.attributes, "rr-web.chunk", default=1)

    @property
    def total_chunks(self) -> int:
        return _int_attribute(self.attributes, "rr-web.total-chunks", default=1)


@dataclass(slots=True)
class DeadLetter:
    """A record a consumer could not process, kept with where it came from and why.

    On Kafka the value is the original bytes untouched and the rest travels in headers,
    so a dead letter can be re-published to its source topic as it was."""

    source_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    reason: str
    error_type: str
    consumer_group: str
    failed_at_ns: int


def _int_attribute(attributes: Attributes, key: str, default: int = 0) -> int:
    # The SDK sends JS numbers as OTLP doubles, which arrive stringified as "3" or "3.0".
    raw = attributes.get(key)
    if raw is None or raw == "":
        return default
    return int(float(raw))


@dataclass(slots=True)
class RecordBatch:
    """What one raw-topic message carries: the records of one session and one signal
    (all spans, all log records or all rrweb chunks) from one request, in request order."""

    records: list[SpanRecord] | list[LogRecord] | list[ReplayChunk]

    @property
    def session_id(self) -> str:
        return self.records[0].session_id if self.records else ""

    def __len__(self) -> int:
        return len(self.records)
