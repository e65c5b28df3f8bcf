"""Prometheus metrics of ingest, in the app's own registry (several apps in one process,
as in tests and the all-in-one mode, must not share counters)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

_BYTES_BUCKETS = tuple(float(1 << n) for n in range(10, 26, 2))  # 1 KiB .. 32 MiB
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "exos_ingest_requests",
            "OTLP export requests by signal, payload encoding and HTTP status.",
            ["signal", "encoding", "status"],
            registry=registry,
        )
        self.records_accepted = Counter(
            "exos_ingest_records_accepted",
            "Spans, log records or data points acknowledged to senders.",
            ["signal"],
            registry=registry,
        )
        self.records_dropped = Counter(
            "exos_ingest_records_dropped",
            "Spans or log records refused in partial_success (not stored), by reason.",
            ["signal", "reason"],
            registry=registry,
        )
        self.records_corrected = Counter(
            "exos_ingest_records_corrected",
            "Corrections to accepted records (a clock shifted or clamped, an attribute "
            "dropped or truncated, an out-of-range number normalised), by reason.",
            ["signal", "reason"],
            registry=registry,
        )
        self.records_published = Counter(
            "exos_ingest_records_published",
            "Records acknowledged by the bus, by topic.",
            ["topic"],
            registry=registry,
        )
        self.request_bytes = Histogram(
            "exos_ingest_request_bytes",
            "Request body size as received (before decompression).",
            ["signal"],
            buckets=_BYTES_BUCKETS,
            registry=registry,
        )
        self.publish_seconds = Histogram(
            "exos_ingest_publish_seconds",
            "Time from publish to the bus's acknowledgement of a request's records.",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "exos_ingest_errors",
            "Requests refused as a whole, by reason (bad_json, unauthorized, ...).",
            ["signal", "reason"],
            registry=registry,
        )
