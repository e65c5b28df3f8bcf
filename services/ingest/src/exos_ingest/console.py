"""Browser console output, which the HyperDX SDK sends as spans, -> log records.

The SDK's console instrumentation turns `console.log/info/warn/debug` into spans
`console.<type>` (attribute `component: console`, `level`, `message`), and
`console.error` and uncaught errors reach the errors instrumentation as spans
`console.error`, `onerror`, `unhandledrejection`, `eventListener.error` (`component:
error`, `error.message`, `error.stack`), all of which a browser's console shows too.
Console text is log data: turning it into `otel_logs` rows puts the Console tab and site
health's console errors on one table with real severities. Error spans stay spans as
well, because errors are counted on the trace table (status Error, HyperDX's session
list). Pure functions.
"""

from __future__ import annotations

from exos_common.codec import PipelineRecord
from exos_common.messages import LogRecord, SpanRecord

CONSOLE_PREFIX = "console."
CONSOLE_COMPONENT = "console"
ERROR_COMPONENT = "error"

# OpenTelemetry log data model severity numbers (the first of each range).
SEVERITY_NUMBERS = {
    "trace": 1,
    "debug": 5,
    "info": 9,
    "warn": 13,
    "warning": 13,
    "error": 17,
    "fatal": 21,
}


def console_records(span: SpanRecord, *, trace_flags: int) -> list[PipelineRecord]:
    """What to publish for one span: the span itself, a log record in its place (console
    output), or both (errors: `console.error`, `onerror`, `unhandledrejection`, ...)."""
    component = span.attributes.get("component")
    if component == ERROR_COMPONENT:
        return [span, console_error_log(span, trace_flags=trace_flags)]
    if component == CONSOLE_COMPONENT and span.name.startswith(CONSOLE_PREFIX):
        return [console_log(span, trace_flags=trace_flags)]
    return [span]


def severity_of(level: str) -> tuple[str, int]:
    """SeverityText and SeverityNumber for a console level; `log` is `info` (as the SDK
    maps it); an unknown level keeps its text with number 0 (unspecified)."""
    text = level.strip().lower()
    if text == "log":
        text = "info"
    return text, SEVERITY_NUMBERS.get(text, 0)


def console_log(span: SpanRecord, *, trace_flags: int) -> LogRecord:
    level = span.attributes.get("level") or span.name[len(CONSOLE_PREFIX) :]
    return _log_from(span, level, body_key="message", drop=("message", "level"), flags=trace_flags)


def console_error_log(span: SpanRecord, *, trace_flags: int) -> LogRecord:
    body_key = "error.message" if "error.message" in span.attributes else "message"
    return _log_from(span, "error", body_key=body_key, drop=(body_key,), flags=trace_flags)


def _log_from(
    span: SpanRecord, level: str, *, body_key: str, drop: tuple[str, ...], flags: int
) -> LogRecord:
    severity_text, severity_number = severity_of(level)
    return LogRecord(
        session_id=span.session_id,
        timestamp_ns=span.timestamp_ns,
        service_name=span.service_name,
        body=span.attributes.get(body_key, ""),
        # The SDK observed the call when it started the span.
        observed_timestamp_ns=span.timestamp_ns,
        trace_id=span.trace_id,
        span_id=span.span_id,
        trace_flags=flags,
        severity_text=severity_text,
        severity_number=severity_number,
        resource_attributes=span.resource_attributes,
        scope_name=span.scope_name,
        scope_version=span.scope_version,
        attributes={k: v for k, v in span.attributes.items() if k not in drop},
        client=span.client,
    )
