"""The bus port and its adapters; `create_bus` picks one from the settings."""

from __future__ import annotations

from typing import Literal

from exos_common.bus.errors import (
    BusError,
    BusFull,
    BusUnavailable,
    CommitFailed,
    MembershipLost,
    RecordTooLarge,
    UnknownTopic,
)
from exos_common.bus.port import (
    Bus,
    BusRecord,
    Consumer,
    Delivery,
    OutgoingRecord,
    TopicPartition,
)
from exos_common.settings import KafkaSettings
from exos_common.topics import pipeline_topic_specs

__all__ = [
    "Bus",
    "BusError",
    "BusFull",
    "BusRecord",
    "BusUnavailable",
    "CommitFailed",
    "Consumer",
    "Delivery",
    "MembershipLost",
    "OutgoingRecord",
    "RecordTooLarge",
    "TopicPartition",
    "UnknownTopic",
    "create_bus",
    "ensure_pipeline_topics",
]


def create_bus(kind: Literal["kafka", "memory"], settings: KafkaSettings | None = None) -> Bus:
    """The Kafka bus for distributed mode, the in-process bus for the all-in-one mode."""
    settings = settings or KafkaSettings()
    if kind == "kafka":
        from exos_common.bus.kafka import KafkaBus

        return KafkaBus(settings)
    from exos_common.bus.memory import InProcessBus

    return InProcessBus(max_message_bytes=settings.kafka_max_message_bytes)


async def ensure_pipeline_topics(bus: Bus, settings: KafkaSettings) -> None:
    """Create the missing pipeline topics with EXOS's configs, unless turned off."""
    if settings.kafka_create_topics:
        await bus.ensure_topics(
            pipeline_topic_specs(
                settings.kafka_topic_partitions,
                settings.kafka_replication_factor,
                settings.kafka_max_message_bytes,
            )
        )
