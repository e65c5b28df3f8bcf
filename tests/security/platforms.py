"""The two platforms the attack suite runs against, as real processes:

- `UpProcess`: `exos up` (one process) with local tokens of each role, ingest keyed,
  CORS limited to one site and a low record rate;
- the distributed read side: query-api, replay and insights (`exos serve`) on the
  embedded ClickHouse server, behind the gateway (`exos serve gateway`) with OIDC bearer
  tokens of a test issuer beside the local tokens, all sharing the gateway's secret.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from exos_common.localkafka import free_port
from exos_common.testing.processes import ServiceProcess

from .world import SERVICE_SECRET, TOKEN_ENTRIES

API_KEY = "ingest-key-5f2a"
SITE = "https://app.example.test"
RATE_PER_S = 2


class UpProcess:
    def __init__(self, data: Path) -> None:
        self.data = data
        self.ports = {"port": free_port(), "otlp": free_port(), "clickhouse": free_port()}
        self.log = data.parent / "up.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def portal(self) -> str:
        return f"http://127.0.0.1:{self.ports['port']}"

    @property
    def otlp(self) -> str:
        return f"http://127.0.0.1:{self.ports['otlp']}"

    def env(self) -> Mapping[str, str]:
        return {
            **os.environ,
            "EXOS_GATEWAY_AUTH": "tokens",
            "EXOS_GATEWAY_TOKENS": TOKEN_ENTRIES,
            "EXOS_INGEST_API_KEYS": API_KEY,
            "EXOS_INGEST_CORS_ORIGINS": SITE,
            "EXOS_INGEST_RATE_LIMIT_RECORDS_PER_S": str(RATE_PER_S),
            "EXOS_INGEST_RATE_LIMIT_BURST": str(RATE_PER_S),
        }

    def start(self, timeout_s: float = 240.0) -> UpProcess:
        command = [sys.executable, "-m", "exos", "up", "--data", str(self.data)]
        for flag, port in (("--port", "port"), ("--otlp-port", "otlp")):
            command += [flag, str(self.ports[port])]
        command += ["--clickhouse-port", str(self.ports["clickhouse"])]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(self.env()),
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.log.read_text()[-3000:])
            if self.healthy():
                return self
            time.sleep(0.5)
        raise TimeoutError(self.log.read_text()[-3000:])

    def healthy(self) -> bool:
        try:
            return all(
                httpx.get(f"{base}/healthz", timeout=2).status_code == 200
                for base in (self.portal, self.otlp)
            )
        except httpx.HTTPError:
            return False

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(90)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)


class ReadSide:
    """query-api, replay, insights and the gateway as `exos serve` processes."""

    def __init__(self, env: Mapping[str, str], log_dir: Path, issuer_url: str, audience: str):
        shared = {**env, "EXOS_SERVICE_SECRET": SERVICE_SECRET}
        self.readers = {
            name: ServiceProcess(name, shared, log_dir)
            for name in ("query-api", "replay", "insights")
        }
        self.gateway = ServiceProcess(
            "gateway",
            shared
            | {
                "EXOS_GATEWAY_AUTH": "oidc",
                "EXOS_GATEWAY_OIDC_ISSUER": issuer_url,
                "EXOS_GATEWAY_OIDC_AUDIENCE": audience,
                "EXOS_GATEWAY_TOKENS": TOKEN_ENTRIES,
                "EXOS_QUERY_API_URL": self.readers["query-api"].url,
                "EXOS_REPLAY_URL": self.readers["replay"].url,
                "EXOS_INSIGHTS_URL": self.readers["insights"].url,
            },
            log_dir,
        )

    @property
    def services(self) -> list[ServiceProcess]:
        return [*self.readers.values(), self.gateway]

    def start(self) -> ReadSide:
        try:
            for service in self.services:
                service.launch()
            for service in self.services:
                service.wait_ready(180.0)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
