"""Kafka topic names of the pipeline and the configuration EXOS creates them with.

Every pipeline topic is keyed by `rum.sessionId`, so all events of one session land in
one partition, in order: enrich keeps per-session state without coordination, and a
consumer group scales by partitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Topic(StrEnum):
    SPANS_RAW = "otlp.spans.raw"
    LOGS_RAW = "otlp.logs.raw"
    REPLAY_RAW = "replay.raw"
    SPANS_ENRICHED = "spans.enriched"
    LOGS_ENRICHED = "logs.enriched"
    DEAD_LETTER = "exos.deadletter"
    ENRICH_STATE = "enrich.state"


PIPELINE_TOPICS: tuple[Topic, ...] = tuple(Topic)

# Raw data is replayable from Kafka for a week (a writer or enrich outage shorter than
# that loses nothing); the dead-letter topic keeps poison records for a month so
# someone can look at them.
_WEEK_MS = 7 * 24 * 3600 * 1000
_RETENTION_MS: dict[Topic, int] = {topic: _WEEK_MS for topic in Topic}
_RETENTION_MS[Topic.DEAD_LETTER] = 30 * 24 * 3600 * 1000
# enrich's session-state changelog: compacted to the latest snapshot per session, and a
# session idle for longer than its longest possible life (4 h) is dropped entirely.
_RETENTION_MS[Topic.ENRICH_STATE] = 8 * 3600 * 1000
_CLEANUP = {topic: "delete" for topic in Topic}
_CLEANUP[Topic.ENRICH_STATE] = "compact,delete"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """What `ensure_topics` creates: partitions, replication and topic-level configs."""

    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str]


def pipeline_topic_specs(
    partitions: int, replication_factor: int, max_message_bytes: int
) -> list[TopicSpec]:
    """Specs for every pipeline topic. Replay snapshots reach several MiB, so every topic
    accepts `max_message_bytes`; producers compress (lz4), so the stored size is smaller."""
    min_insync = str(min(2, replication_factor))
    return [
        TopicSpec(
            name=str(topic),
            partitions=partitions,
            replication_factor=replication_factor,
            configs={
                "retention.ms": str(_RETENTION_MS[topic]),
                "max.message.bytes": str(max_message_bytes),
                "min.insync.replicas": min_insync,
                "compression.type": "producer",
                "cleanup.policy": _CLEANUP[topic],
            },
        )
        for topic in PIPELINE_TOPICS
    ]
