"""The platform as separate processes: `exos serve SERVICE` subprocesses wired to a real
Kafka broker and the embedded ClickHouse server, as docker-compose wires them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from exos_common.localkafka import free_port
from exos_common.schema import migrate
from exos_common.settings import StoreSettings
from exos_common.store import Store, open_store


class ServiceProcess:
    """One `exos serve SERVICE` process; `kill()` is SIGKILL (no flush, no commit)."""

    def __init__(self, service: str, env: dict[str, str], log_dir: Path) -> None:
        self.service = service
        self.port = free_port()
        self.env = env
        self.log_path = log_dir / f"{service}-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> ServiceProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "exos", "serve", self.service, "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.service} exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.service} not ready in {timeout_s}s:\n{self.log_tail()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> bool:
        """SIGTERM; True when the service shut down gracefully (uvicorn finished the
        lifespan: flush, commit, close) and exited as SIGTERM asks (-15) or with 0."""
        if self.process is None or self.process.poll() is not None:
            return False
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            return False
        return code in (0, -signal.SIGTERM) and "Application shutdown complete" in self.log_tail()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def metrics(self) -> str:
        return httpx.get(f"{self.url}/metrics", timeout=5).text


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
    settings = StoreSettings(
        clickhouse_url=env["EXOS_CLICKHOUSE_URL"], clickhouse_database=database
    )
    store = open_store(settings, create_database=True)
    migrate(store, settings, dedup_window=10_000)
    store.close()
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


class Platform:
    """ingest, enrich and writer as separate processes on one test's groups and database."""

    def __init__(self, env: dict[str, str], log_dir: Path, api_key: str) -> None:
        run = uuid.uuid4().hex[:8]
        self.api_key = api_key
        self.env = env | {
            "EXOS_INGEST_API_KEYS": api_key,
            "EXOS_ENRICH_GROUP": f"enrich-{run}",
            "EXOS_WRITER_GROUP": f"writer-{run}",
            "EXOS_WRITER_BATCH_AGE_S": "0.2",
            "EXOS_ENRICH_SIGNAL_SETTLE_S": "2",
        }
        self.ingest = ServiceProcess("ingest", self.env, log_dir)
        self.enrich = ServiceProcess(
            "enrich", self.env | {"EXOS_INSTANCE_ID": f"enrich-{run}-0"}, log_dir
        )
        self.writer = ServiceProcess("writer", self.env, log_dir)

    @property
    def services(self) -> tuple[ServiceProcess, ...]:
        return (self.ingest, self.enrich, self.writer)

    def start(self) -> Platform:
        for service in self.services:
            service.start()
        return self

    def stop(self) -> None:
        for service in self.services:
            service.stop()


@pytest.fixture
def platform(platform_env: dict[str, str], tmp_path: Path) -> Iterator[Platform]:
    running = Platform(platform_env, tmp_path, api_key=f"key-{uuid.uuid4().hex[:6]}").start()
    yield running
    running.stop()
