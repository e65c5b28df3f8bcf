"""The platform as separate processes: `exos serve SERVICE` subprocesses wired to a real
Kafka broker and a ClickHouse server, as docker-compose wires them. Used by the e2e
tests (tests/e2e/conftest.py) and the benchmarks (bench/)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import httpx

from exos_common.localkafka import free_port
from exos_common.schema import migrate
from exos_common.settings import StoreSettings
from exos_common.store import open_store


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
        self.launch()
        return self.wait_ready(timeout_s)

    def launch(self) -> ServiceProcess:
        """Start the process without waiting (several start faster side by side)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "exos", "serve", self.service, "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self, timeout_s: float = 60.0) -> ServiceProcess:
        assert self.process is not None, "launch() first"
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


def prepare_database(clickhouse_url: str, database: str, dedup_window: int = 10_000) -> None:
    """Create `database` on the ClickHouse at `clickhouse_url` and migrate it."""
    settings = StoreSettings(clickhouse_url=clickhouse_url, clickhouse_database=database)
    store = open_store(settings, create_database=True)
    try:
        migrate(store, settings, dedup_window=dedup_window)
    finally:
        store.close()


class Platform:
    """ingest, enrich and writer as separate processes on their own consumer groups.

    `env` holds the infrastructure (`EXOS_KAFKA_BOOTSTRAP`, `EXOS_CLICKHOUSE_URL`,
    `EXOS_CLICKHOUSE_DATABASE`, ...); `overrides` are extra `EXOS_*` settings of all three
    (tests shorten batch ages and settle times, benchmarks keep the defaults)."""

    def __init__(
        self,
        env: dict[str, str],
        log_dir: Path,
        api_key: str,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        run = uuid.uuid4().hex[:8]
        self.api_key = api_key
        self.env = (
            env
            | {
                "EXOS_INGEST_API_KEYS": api_key,
                "EXOS_ENRICH_GROUP": f"enrich-{run}",
                "EXOS_WRITER_GROUP": f"writer-{run}",
            }
            | dict(overrides or {})
        )
        self.ingest = ServiceProcess("ingest", self.env, log_dir)
        self.enrich = ServiceProcess(
            "enrich", self.env | {"EXOS_INSTANCE_ID": f"enrich-{run}-0"}, log_dir
        )
        self.writer = ServiceProcess("writer", self.env, log_dir)

    @property
    def services(self) -> tuple[ServiceProcess, ...]:
        return (self.ingest, self.enrich, self.writer)

    def start(self) -> Platform:
        """Start every service; if one fails to start, stop those already running."""
        try:
            for service in self.services:
                service.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for service in self.services:
            service.stop()


def rss_bytes(pid: int) -> int:
    """Resident set size (VmRSS) of a process in bytes; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, in seconds; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # Fields after the parenthesised command name; utime and stime are 14 and 15.
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time all cores of this machine spent busy (not idle or iowait) since boot, in
    seconds: compared with the processes' own CPU time, it shows what else ran."""
    with open("/proc/stat") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """Cores used by named processes, and by the whole machine, from `start()` to `stop()`:
    if the machine used more than the processes, something else ran meanwhile."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self.pids = dict(pids)
        self._before: dict[str, float] = {}
        self._machine_before = 0.0
        self._started = 0.0

    def start(self) -> CpuMeter:
        self._before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._machine_before = machine_busy_seconds()
        self._started = time.perf_counter()
        return self

    def stop(self) -> tuple[dict[str, float], float]:
        """(cores per process, cores of the whole machine), averaged since start()."""
        wall = time.perf_counter() - self._started
        cores = {
            name: (cpu_seconds(pid) - self._before[name]) / wall for name, pid in self.pids.items()
        }
        return cores, (machine_busy_seconds() - self._machine_before) / wall


class RssSampler(threading.Thread):
    """Samples the RSS of named processes every `every_s` seconds until `stop()`;
    `peak` holds the largest value seen per name."""

    def __init__(self, pids: Mapping[str, int], every_s: float = 0.5) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.pids = dict(pids)
        self.every_s = every_s
        self.peak = dict.fromkeys(self.pids, 0)
        self._stopping = threading.Event()

    def sample(self) -> dict[str, int]:
        now = {name: rss_bytes(pid) for name, pid in self.pids.items()}
        for name, rss in now.items():
            self.peak[name] = max(self.peak[name], rss)
        return now

    def run(self) -> None:
        while not self._stopping.wait(self.every_s):
            self.sample()

    def stop(self) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join()
