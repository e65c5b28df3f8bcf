"""How much of a request ingest keeps: the limits every record is held to, in the
spirit of the OpenTelemetry SDK's span and attribute limits, read from settings once
and handed to the (thread-side) validation as plain values."""

from __future__ import annotations

from dataclasses import dataclass

from exos_ingest.settings import IngestSettings

NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S


@dataclass(frozen=True, slots=True)
class Limits:
    max_spans_per_request: int = 10_000
    max_logs_per_request: int = 10_000
    max_attributes: int = 128
    max_attribute_value_chars: int = 4096
    max_attribute_key_chars: int = 256
    max_span_name_chars: int = 1024
    max_events_per_span: int = 128
    max_links_per_span: int = 128
    max_anyvalue_depth: int = 16
    clock_tolerance_ns: int = 300 * NS_PER_S
    retention_traces_days: int = 30
    retention_logs_days: int = 30
    retention_sessions_days: int = 30

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> Limits:
        return cls(
            max_spans_per_request=settings.ingest_max_spans_per_request,
            max_logs_per_request=settings.ingest_max_logs_per_request,
            max_attributes=settings.ingest_max_attributes,
            max_attribute_value_chars=settings.ingest_max_attribute_value_chars,
            max_attribute_key_chars=settings.ingest_max_attribute_key_chars,
            max_span_name_chars=settings.ingest_max_span_name_chars,
            max_events_per_span=settings.ingest_max_events_per_span,
            max_links_per_span=settings.ingest_max_links_per_span,
            max_anyvalue_depth=settings.ingest_max_anyvalue_depth,
            clock_tolerance_ns=settings.ingest_clock_tolerance_s * NS_PER_S,
            retention_traces_days=settings.retention_traces_days,
            retention_logs_days=settings.retention_logs_days,
            retention_sessions_days=settings.retention_sessions_days,
        )
