"""pytest plugin: a real Apache Kafka broker (KRaft) for the whole test session.

Fixture `kafka_broker` (session scope) yields a `KafkaBroker` whose `.bootstrap` is the
address to hand to clients, e.g.::

    @pytest.mark.kafka
    async def test_round_trip(kafka_broker: KafkaBroker) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap)

The broker is started once per session on a free port in a temporary folder and stopped at
session end, also when tests fail. It has `auto.create.topics.enable=false`, so tests
create their topics (use a unique name per test: the broker is shared), and accepts
messages up to `EXOS_KAFKA_MAX_MESSAGE_BYTES`. The first run fetches Kafka with Maven
into `EXOS_CACHE_DIR`; later runs start in a few seconds from the cache.

Set `EXOS_TEST_KAFKA_BOOTSTRAP=host:port` to use a broker that already runs (e.g. one
from `exos kafka start`) instead; nothing is started or stopped then.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from exos_common.localkafka import free_port, start_local_broker, stop_broker

BOOTSTRAP_ENV = "EXOS_TEST_KAFKA_BOOTSTRAP"


@dataclass(frozen=True)
class KafkaBroker:
    bootstrap: str  # "127.0.0.1:PORT"
    data_dir: Path | None  # None for a broker given by EXOS_TEST_KAFKA_BOOTSTRAP


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    given = os.environ.get(BOOTSTRAP_ENV)
    if given:
        yield KafkaBroker(bootstrap=given, data_dir=None)
        return
    data_dir = tmp_path_factory.mktemp("kafka")
    broker = start_local_broker(data_dir, free_port())
    try:
        yield KafkaBroker(bootstrap=broker.bootstrap, data_dir=data_dir)
    finally:
        stop_broker(data_dir)
