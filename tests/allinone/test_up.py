"""`exos up` as a user runs it: one process, ports printed, OTLP in, rows out over the
ClickHouse HTTP interface, a clean Ctrl-C, and the data still there after a restart."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import clickhouse_connect
import httpx
from clickhouse_connect.driver.client import Client

from exos_common.localkafka import free_port


class Up:
    # How `exos` is started; a test may wrap it (e.g. to install a stack dump signal).
    launcher: tuple[str, ...] = (sys.executable, "-m", "exos")

    def __init__(self, data: Path, *, demo: bool = False) -> None:
        self.demo = demo
        self.ports = {"port": free_port(), "otlp": free_port(), "clickhouse": free_port()}
        self.data = data
        self.log = data.parent / "up.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *self.launcher,
                    "up",
                    "--data",
                    str(self.data),
                    "--port",
                    str(self.ports["port"]),
                    "--otlp-port",
                    str(self.ports["otlp"]),
                    "--clickhouse-port",
                    str(self.ports["clickhouse"]),
                    *(["--demo"] if self.demo else []),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.portal}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(self.log.read_text()[-3000:])

    @property
    def portal(self) -> str:
        return f"http://127.0.0.1:{self.ports['port']}"

    @property
    def clickhouse_password(self) -> str:
        """Made by `exos up` on its first start, next to the database."""
        return (self.data / "clickhouse" / "password").read_text().strip()

    def clickhouse_client(self) -> Client:
        return clickhouse_connect.get_client(
            host="127.0.0.1",
            port=self.ports["clickhouse"],
            username="default",
            password=self.clickhouse_password,
        )

    def interrupt(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(90)


def span_body(session: str, count: int) -> dict[str, object]:
    now = time.time_ns()
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "web"}},
                        {"key": "rum.sessionId", "value": {"stringValue": session}},
                    ]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": f"{i + 1:032x}",
                                "spanId": f"{i + 1:016x}",
                                "name": "HTTP GET",
                                "startTimeUnixNano": str(now + i),
                                "endTimeUnixNano": str(now + i + 1000),
                            }
                            for i in range(count)
                        ]
                    }
                ],
            }
        ]
    }


def test_up_ingests_serves_clickhouse_stops_cleanly_and_keeps_data(tmp_path: Path) -> None:
    up = Up(tmp_path / "data")
    up.start()
    try:
        spec = httpx.get(f"{up.portal}/openapi.json").json()
        assert {"/api/visitor", "/healthz"} <= set(spec["paths"])
        otlp = f"http://127.0.0.1:{up.ports['otlp']}"
        response = httpx.post(f"{otlp}/v1/traces", json=span_body("s-up", 25))
        assert response.status_code == 200, response.text
        client = up.clickhouse_client()
        count = "SELECT count() FROM otel_traces WHERE ResourceAttributes['rum.sessionId'] = 's-up'"
        deadline = time.monotonic() + 30
        while client.query(count).result_rows[0][0] < 25 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.query(count).result_rows[0][0] == 25
        # More data right before Ctrl-C: the stop drains it into the database.
        assert httpx.post(f"{otlp}/v1/traces", json=span_body("s-late", 40)).status_code == 200
    finally:
        assert up.interrupt() == 0, up.log.read_text()[-3000:]

    up.start()
    try:
        client = up.clickhouse_client()
        rows = client.query(
            "SELECT ResourceAttributes['rum.sessionId'] AS s, count() FROM otel_traces "
            "GROUP BY s ORDER BY s"
        ).result_rows
        assert rows == [("s-late", 40), ("s-up", 25)]
    finally:
        assert up.interrupt() == 0
