"""`fits_columns`: does an accepted record fit the columns the writer stores it in
(otel_traces, otel_logs, hyperdx_sessions) and the limits ingest promises? Returns the
list of what does not fit (empty: it fits), so a failing test says why."""

from __future__ import annotations

import re

from exos_common.codec import PipelineRecord
from exos_common.messages import Attributes, LogRecord, SpanRecord
from exos_ingest.flatten import MAX_SEVERITY_NUMBER, SPAN_KINDS, STATUS_CODES
from exos_ingest.limits import Limits

INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1
_HEX = re.compile(r"[0-9a-f]*")


def _hex(value: str, length: int, *, optional: bool) -> bool:
    if optional and value == "":
        return True
    return len(value) == length and _HEX.fullmatch(value) is not None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _attributes(name: str, attributes: Attributes, limits: Limits) -> list[str]:
    problems = []
    if len(attributes) > limits.max_attributes:
        problems.append(f"{name}: {len(attributes)} attributes")
    for key, value in attributes.items():
        if not isinstance(key, str) or not isinstance(value, str):
            problems.append(f"{name}: non-string {key!r}")
        elif len(key) > limits.max_attribute_key_chars:
            problems.append(f"{name}: key of {len(key)} chars")
        elif len(value) > limits.max_attribute_value_chars:
            problems.append(f"{name}[{key[:20]!r}]: value of {len(value)} chars")
        elif not (_utf8(key) and _utf8(value)):
            problems.append(f"{name}[{key[:20]!r}]: not UTF-8")
    return problems


def _span(span: SpanRecord, limits: Limits) -> list[str]:
    problems = []
    if not _hex(span.trace_id, 32, optional=False):
        problems.append(f"TraceId {span.trace_id!r}")
    if not _hex(span.span_id, 16, optional=False):
        problems.append(f"SpanId {span.span_id!r}")
    if not _hex(span.parent_span_id, 16, optional=True):
        problems.append(f"ParentSpanId {span.parent_span_id!r}")
    if span.kind not in SPAN_KINDS or span.status_code not in STATUS_CODES:
        problems.append(f"kind/status {span.kind!r}/{span.status_code!r}")
    if not 0 <= span.duration_ns <= UINT64_MAX:
        problems.append(f"Duration {span.duration_ns}")
    if len(span.name) > limits.max_span_name_chars:
        problems.append(f"SpanName of {len(span.name)} chars")
    if len(span.events) > limits.max_events_per_span or len(span.links) > limits.max_links_per_span:
        problems.append(f"{len(span.events)} events, {len(span.links)} links")
    for event in span.events:
        if not 0 <= event.timestamp_ns <= INT64_MAX:
            problems.append(f"Events.Timestamp {event.timestamp_ns}")
        problems += _attributes("Events.Attributes", event.attributes, limits)
    for link in span.links:
        if not (_hex(link.trace_id, 32, optional=False) and _hex(link.span_id, 16, optional=False)):
            problems.append(f"Links ids {link.trace_id!r}/{link.span_id!r}")
        problems += _attributes("Links.Attributes", link.attributes, limits)
    problems += _attributes("SpanAttributes", span.attributes, limits)
    return problems


def _log(log: LogRecord, limits: Limits) -> list[str]:
    problems = []
    if not _hex(log.trace_id, 32, optional=True) or not _hex(log.span_id, 16, optional=True):
        problems.append(f"ids {log.trace_id!r}/{log.span_id!r}")
    if not 0 <= log.trace_flags <= 255:
        problems.append(f"TraceFlags {log.trace_flags}")
    if not 0 <= log.severity_number <= MAX_SEVERITY_NUMBER:
        problems.append(f"SeverityNumber {log.severity_number}")
    problems += _attributes("LogAttributes", log.attributes, limits)
    problems += _attributes("ScopeAttributes", log.scope_attributes, limits)
    if not _utf8(log.body):
        problems.append("Body not UTF-8")
    return problems


def fits_columns(
    record: PipelineRecord, *, received_at_ns: int, limits: Limits | None = None
) -> list[str]:
    limits = limits or Limits()
    problems = []
    latest = received_at_ns + limits.clock_tolerance_ns
    oldest = (
        received_at_ns
        - max(
            limits.retention_traces_days, limits.retention_logs_days, limits.retention_sessions_days
        )
        * 86_400_000_000_000
    )
    if not 0 < record.timestamp_ns <= INT64_MAX:
        problems.append(f"Timestamp {record.timestamp_ns} outside DateTime64(9)")
    elif not oldest <= record.timestamp_ns <= latest:
        problems.append(f"Timestamp {record.timestamp_ns} outside [{oldest}, {latest}]")
    problems += _attributes("ResourceAttributes", record.resource_attributes, limits)
    if isinstance(record, SpanRecord):
        problems += _span(record, limits)
    else:
        problems += _log(record, limits)
    return problems
