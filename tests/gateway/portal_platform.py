"""`exos up --demo` at a reduced scale as a separate process, for the portal's browser
tests and bench/bench_portal.py: the real gateway with query-api, replay and insights
mounted, the demo loaded through the real OTLP ingest, Ask AI pointed at a local
OpenAI-compatible server."""

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
from exos_common.testing.browser import CHROMIUM, CHROMIUM_ARGS

__all__ = ["ARTIFACTS", "CHROMIUM", "CHROMIUM_ARGS", "DemoPlatform"]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "portal"


class DemoPlatform:
    def __init__(self, data: Path, *, scale: float, env: Mapping[str, str] | None = None) -> None:
        self.data = data
        self.scale = scale
        self.env = dict(env or {})
        self.ports = {"port": free_port(), "otlp": free_port(), "clickhouse": free_port()}
        self.log = data.parent / "up.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def portal(self) -> str:
        return f"http://127.0.0.1:{self.ports['port']}"

    @property
    def clickhouse(self) -> str:
        return f"http://127.0.0.1:{self.ports['clickhouse']}"

    @property
    def clickhouse_auth(self) -> tuple[str, str]:
        """`exos up` makes its ClickHouse password on first start, next to the database."""
        return ("default", (self.data / "clickhouse" / "password").read_text().strip())

    def start(self, timeout_s: float = 240.0) -> None:
        """Returns once the demo is loaded and queryable."""
        env = {**os.environ, "EXOS_DEMO_SCALE": str(self.scale), **self.env}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "exos",
                    "up",
                    "--demo",
                    "--data",
                    str(self.data),
                    "--port",
                    str(self.ports["port"]),
                    "--otlp-port",
                    str(self.ports["otlp"]),
                    "--clickhouse-port",
                    str(self.ports["clickhouse"]),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.log.read_text()[-3000:])
            if "demo loaded" in self.log.read_text(errors="replace") and self._ready():
                self._settle(deadline)
                return
            time.sleep(0.5)
        raise TimeoutError(self.log.read_text()[-3000:])

    def count(self, sql: str) -> int:
        answer = httpx.get(
            self.clickhouse, params={"query": sql}, auth=self.clickhouse_auth, timeout=30
        )
        answer.raise_for_status()
        return int(answer.text.strip())

    def _settle(self, deadline: float) -> None:
        """Acknowledged is not yet written: wait until the writer caught up (the span
        count holds still for a second)."""
        last = -1
        while time.monotonic() < deadline:
            now = self.count("SELECT count() FROM otel_traces")
            if now == last and now > 0:
                return
            last = now
            time.sleep(1.0)

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.portal}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(90)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)
