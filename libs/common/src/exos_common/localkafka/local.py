"""Fetch-and-start from the EXOS settings: what `exos kafka start` and the tests call."""

from __future__ import annotations

from pathlib import Path

from exos_common.localkafka.broker import RunningBroker, start_broker
from exos_common.localkafka.fetch import fetch_kafka
from exos_common.settings import KafkaSettings, RuntimeSettings


def start_local_broker(data_dir: Path, port: int, *, timeout_s: float = 120.0) -> RunningBroker:
    """Start a broker of `EXOS_KAFKA_VERSION` (jars from `EXOS_CACHE_DIR`) on `port`.

    Topics and producers get `EXOS_KAFKA_MAX_MESSAGE_BYTES`, so the broker accepts them.
    """
    runtime, kafka = RuntimeSettings(), KafkaSettings()
    dist = fetch_kafka(kafka.kafka_version, runtime.cache_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    return start_broker(
        dist, data_dir, port, max_message_bytes=kafka.kafka_max_message_bytes, timeout_s=timeout_s
    )
