"""A real Apache Kafka broker (KRaft, single node) for development and tests.

dist = fetch_kafka("4.1.1", cache_dir)          # Maven once, then the cache
broker = start_broker(dist, data_dir, 9092, max_message_bytes=8 << 20)
...  # broker.bootstrap == "127.0.0.1:9092"
stop_broker(data_dir)
"""

from exos_common.localkafka.broker import (
    BrokerConfig,
    BrokerStartError,
    RunningBroker,
    free_port,
    render_log4j2_properties,
    render_server_properties,
    start_broker,
    stop_broker,
)
from exos_common.localkafka.fetch import KafkaDist, KafkaFetchError, fetch_kafka, render_pom
from exos_common.localkafka.local import start_local_broker

__all__ = [
    "BrokerConfig",
    "BrokerStartError",
    "KafkaDist",
    "KafkaFetchError",
    "RunningBroker",
    "fetch_kafka",
    "free_port",
    "render_log4j2_properties",
    "render_pom",
    "render_server_properties",
    "start_broker",
    "start_local_broker",
    "stop_broker",
]
