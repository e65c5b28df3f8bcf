"""The writer's own metrics, next to the consumer metrics every consumer service has:
quarantined records, bisection inserts, insert errors by class, stalled partitions."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class WriterMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.quarantined = Counter(
            "exos_writer_quarantined_records",
            "Records (or rows of one record) ClickHouse refused, quarantined, by table and reason.",
            ["table", "reason"],
            registry=registry,
        )
        self.quarantine_failures = Counter(
            "exos_writer_quarantine_failures",
            "Quarantine rows the quarantine table itself refused (the dead letter still went).",
            registry=registry,
        )
        self.bisection_inserts = Counter(
            "exos_writer_bisection_inserts",
            "Inserts of part of a batch while isolating records ClickHouse refuses.",
            ["table"],
            registry=registry,
        )
        self.insert_errors = Counter(
            "exos_writer_insert_errors",
            "Failed insert attempts by error class (transient, data, unknown).",
            ["table", "error_class"],
            registry=registry,
        )
        self.stalled_partitions = Gauge(
            "exos_writer_stalled_partitions",
            "Partitions with work and no commit for longer than EXOS_WRITER_STALL_S.",
            registry=registry,
        )
