"""The platform as separate processes: `exos serve SERVICE` subprocesses wired to a real
Kafka broker and the embedded ClickHouse server, as docker-compose wires them
(`exos_common.testing.processes`, shared with the benchmarks)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from exos_common.settings import StoreSettings
from exos_common.store import Store, open_store
from exos_common.testing.processes import Platform, ServiceProcess, prepare_database

from .sdk_session import serving_test_page

__all__ = ["Platform", "ServiceProcess"]


@pytest.fixture
def page_server() -> Iterator[str]:
    """The test page with the real HyperDX SDK, on its own origin."""
    with serving_test_page() as url:
        yield url


@pytest.fixture
def platform_env(
    kafka_broker: object, clickhouse_server: object, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """Environment of every service process of one test: its own topics' group names
    and its own ClickHouse database, migrated."""
    database = f"e2e_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "EXOS_KAFKA_BOOTSTRAP": kafka_broker.bootstrap,  # type: ignore[attr-defined]
        "EXOS_CLICKHOUSE_URL": clickhouse_server.url,  # type: ignore[attr-defined]
        "EXOS_CLICKHOUSE_DATABASE": database,
        "EXOS_LOG_LEVEL": "INFO",
        "EXOS_KAFKA_TOPIC_PARTITIONS": "4",
    }
    prepare_database(env["EXOS_CLICKHOUSE_URL"], database, dedup_window=10_000)
    yield env


@pytest.fixture
def e2e_store(platform_env: dict[str, str]) -> Iterator[Store]:
    settings = StoreSettings(
        clickhouse_url=platform_env["EXOS_CLICKHOUSE_URL"],
        clickhouse_database=platform_env["EXOS_CLICKHOUSE_DATABASE"],
    )
    store = open_store(settings)
    yield store
    store.close()


# Shorter than the defaults so the tests wait less; the benchmarks keep the defaults.
# The test page is served on its own origin (a free port), so ingest grants any origin.
TEST_OVERRIDES = {
    "EXOS_WRITER_BATCH_AGE_S": "0.2",
    "EXOS_ENRICH_SIGNAL_SETTLE_S": "2",
    "EXOS_INGEST_CORS_ORIGINS": "*",
}


@pytest.fixture
def platform(platform_env: dict[str, str], tmp_path: Path) -> Iterator[Platform]:
    running = Platform(
        platform_env, tmp_path, api_key=f"key-{uuid.uuid4().hex[:6]}", overrides=TEST_OVERRIDES
    ).start()
    yield running
    running.stop()
