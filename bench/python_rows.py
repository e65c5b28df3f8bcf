"""The writer's former Python row building (messages -> clickhouse-connect rows): the
baseline the benches compare table payloads with. Not used at run time: the writer
inserts `exos_common.table_payload` payloads.

Timestamps go in as integer nanoseconds, which clickhouse-connect writes to DateTime64(9)
unchanged: replay chunks keep their exact order (HyperDX ordered them by whole seconds
and its player froze on it). rrweb's event ordinal and chunk numbers stay in
LogAttributes (`rr-web.event`, `rr-web.chunk`, `rr-web.total-chunks`).
"""

from __future__ import annotations

from typing import Any

from exos_common.messages import LogRecord, SpanRecord
from exos_common.table_payload import LOG_COLUMNS, REPLAY_COLUMNS, TRACE_COLUMNS

__all__ = ["LOG_COLUMNS", "REPLAY_COLUMNS", "TRACE_COLUMNS", "log_row", "replay_row", "trace_row"]


def trace_row(span: SpanRecord) -> list[Any]:
    return [
        span.timestamp_ns,
        span.trace_id,
        span.span_id,
        span.parent_span_id,
        span.trace_state,
        span.name,
        span.kind,
        span.service_name,
        span.resource_attributes,
        span.scope_name,
        span.scope_version,
        span.attributes,
        span.duration_ns,
        span.status_code,
        span.status_message,
        [event.timestamp_ns for event in span.events],
        [event.name for event in span.events],
        [event.attributes for event in span.events],
        [link.trace_id for link in span.links],
        [link.span_id for link in span.links],
        [link.trace_state for link in span.links],
        [link.attributes for link in span.links],
    ]


def replay_row(log: LogRecord) -> list[Any]:
    return [
        log.timestamp_ns or log.observed_timestamp_ns,
        log.trace_id,
        log.span_id,
        log.trace_flags,
        log.severity_text,
        log.severity_number,
        log.service_name,
        log.body,
        log.resource_schema_url,
        log.resource_attributes,
        log.scope_schema_url,
        log.scope_name,
        log.scope_version,
        log.scope_attributes,
        log.attributes,
    ]


def log_row(log: LogRecord) -> list[Any]:
    return [*replay_row(log), log.event_name]
