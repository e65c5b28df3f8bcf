"""Prometheus metrics of the embedded server, in a registry per app so several servers
(or tests) in one process do not collide on metric names."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "exos_clickhouse_server_requests",
            "Requests answered, by kind (query or insert) and outcome.",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.errors = Counter(
            "exos_clickhouse_server_errors",
            "Failed requests by ClickHouse error code.",
            ["kind", "code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "exos_clickhouse_server_request_duration_seconds",
            "Time from request start to the engine's answer.",
            ["kind"],
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120),
            registry=self.registry,
        )
        self.inserted_rows = Counter(
            "exos_clickhouse_server_inserted_rows",
            "Rows written by acknowledged inserts.",
            registry=self.registry,
        )

    def observe(self, kind: str, seconds: float, written_rows: int) -> None:
        self.requests.labels(kind, "ok").inc()
        self.duration.labels(kind).observe(seconds)
        if written_rows:
            self.inserted_rows.inc(written_rows)

    def error(self, kind: str, code: int, seconds: float) -> None:
        self.requests.labels(kind, "error").inc()
        self.errors.labels(kind, str(code)).inc()
        self.duration.labels(kind).observe(seconds)
