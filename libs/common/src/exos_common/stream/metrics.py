"""Consumer metrics beyond request counts, the ones a stream consumer is judged by: latency
from record timestamp to commit, lag per partition, batch rows/bytes/age at flush, sink
duration and errors by attempt, time paused, dead letters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_SIZE_BUCKETS = (1, 10, 100, 500, 1_000, 5_000, 10_000, 50_000, 100_000)
_BYTES_BUCKETS = (1e3, 1e4, 1e5, 1e6, 4e6, 16e6, 64e6)
_SECONDS_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)


class ConsumerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.records = Counter(
            "exos_consumer_records", "Records fetched.", ["topic"], registry=registry
        )
        self.dead_letters = Counter(
            "exos_consumer_dead_letters",
            "Poison records sent to the dead-letter topic.",
            ["topic", "error_type"],
            registry=registry,
        )
        self.lag = Gauge(
            "exos_consumer_lag",
            "Records between the group's commit and the log end, per partition.",
            ["topic", "partition"],
            registry=registry,
        )
        self.latency = Histogram(
            "exos_consumer_latency_seconds",
            "From a record's Kafka timestamp to the commit that covers it.",
            ["topic"],
            buckets=_SECONDS_BUCKETS,
            registry=registry,
        )
        self.commits = Counter(
            "exos_consumer_commits", "Offset commits.", ["topic"], registry=registry
        )
        self.batch_rows = Histogram(
            "exos_batch_rows",
            "Rows per flushed batch.",
            ["sink"],
            buckets=_SIZE_BUCKETS,
            registry=registry,
        )
        self.batch_bytes = Histogram(
            "exos_batch_bytes",
            "Bytes per flushed batch.",
            ["sink"],
            buckets=_BYTES_BUCKETS,
            registry=registry,
        )
        self.batch_age = Histogram(
            "exos_batch_age_seconds",
            "Age of a batch when flushed.",
            ["sink"],
            buckets=_SECONDS_BUCKETS,
            registry=registry,
        )
        self.sink_duration = Histogram(
            "exos_sink_duration_seconds",
            "Duration of a successful flush (insert or produce).",
            ["sink"],
            buckets=_SECONDS_BUCKETS,
            registry=registry,
        )
        self.sink_errors = Counter(
            "exos_sink_errors",
            "Failed flush attempts, by attempt number.",
            ["sink", "attempt"],
            registry=registry,
        )
        self.membership_lost = Counter(
            "exos_consumer_membership_lost",
            "Transactions aborted because the group no longer counted this member in.",
            registry=registry,
        )
        self.paused_seconds = Counter(
            "exos_consumer_paused_seconds",
            "Time partitions spent paused by backpressure.",
            registry=registry,
        )
        self.paused_partitions = Gauge(
            "exos_consumer_paused_partitions",
            "Partitions paused right now.",
            registry=registry,
        )
