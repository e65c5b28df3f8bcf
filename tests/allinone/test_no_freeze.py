"""`exos up --demo` keeps answering while clients walk away from streamed answers.

Browsers leave downloads half-read and ClickHouse clients drop long results: each such
client here reads the first bytes of an OCEL export, of a streamed ClickHouse answer or
sends half an insert, then closes its socket, again and again while the demo loads, with
the `SELECT count()` a dashboard polls. Throughout, the portal's /healthz is probed with
a 1 s timeout: no 5 s without an answer, at most 5 % of probes late, and the demo must
finish. On a freeze the process is sent SIGUSR1, so its log ends with every thread's
stack.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from .test_up import Up

SCALE = "0.3"
LOAD_DEADLINE_S = 150.0
HEALTH_TIMEOUT_S = 1.0
# The platform shares its event loop with enrich and the writer, on 2 cores shared with
# other work: a probe may miss its 1 s now and then. A freeze never answers again.
FROZEN_AFTER_S = 5.0
MAX_MISSED_SHARE = 0.05
STALL_S = 1.0
# Large enough that neither answer is complete when the client hangs up.
BIG_QUERY = "SELECT number, toString(number) FROM system.numbers LIMIT 1000000 FORMAT TSV"


# chDB installs its own SIGABRT/SIGSEGV handlers, so the stack dump gets its own signal.
DUMPING_LAUNCHER = (
    sys.executable,
    "-c",
    "import faulthandler, signal, sys; "
    "faulthandler.register(signal.SIGUSR1, all_threads=True); "
    "sys.argv[0] = 'exos'; "
    "from exos.cli import main; main()",
)


class DumpingUp(Up):
    launcher = DUMPING_LAUNCHER


@dataclass
class HealthWatch:
    """Polls /healthz every 0.25 s with a 1 s timeout; keeps each probe's latency (None
    for no answer in time) and the longest time the platform went without answering."""

    url: str
    latencies: list[float | None] = field(default_factory=list)
    longest_silence_s: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        last_answer = time.monotonic()
        with httpx.Client(timeout=HEALTH_TIMEOUT_S) as client:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    answered = client.get(self.url).status_code == 200
                except httpx.HTTPError:
                    answered = False
                now = time.monotonic()
                self.latencies.append(now - began if answered else None)
                self.longest_silence_s = max(self.longest_silence_s, now - last_answer)
                if answered:
                    last_answer = now
                self._stop.wait(0.25)

    @property
    def missed(self) -> int:
        return sum(1 for latency in self.latencies if latency is None)

    def summary(self) -> str:
        answered = sorted(lat for lat in self.latencies if lat is not None)
        p99 = answered[int(len(answered) * 0.99)] if answered else float("nan")
        return (
            f"{len(self.latencies)} probes, {self.missed} unanswered in {HEALTH_TIMEOUT_S}s, "
            f"p99 {p99:.3f}s, longest silence {self.longest_silence_s:.2f}s"
        )

    def frozen(self) -> bool:
        return self.longest_silence_s > FROZEN_AFTER_S

    def stop(self) -> None:
        self._stop.set()


def hang_up_after_first_bytes(port: int, request: bytes) -> None:
    """Send `request`, read one chunk (waiting up to ~1 s), then stall for a second
    without reading, as a slow or distracted client does, and close the socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
        sock.sendall(request)
        with contextlib.suppress(TimeoutError):
            sock.recv(4096)
        time.sleep(STALL_S)


def ocel_export(port: int) -> bytes:
    return f"GET /api/ocpm/export/ocel HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


def clickhouse_auth(password: str) -> str:
    """The ClickHouse port requires the password `exos up` made: requests without it would
    be refused at once and never reach the engine."""
    return f"X-ClickHouse-User: default\r\nX-ClickHouse-Key: {password}\r\n"


def streamed_query(port: int, auth: str) -> bytes:
    body = BIG_QUERY.encode()
    return (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def count_spans(port: int, auth: str) -> bytes:
    """The poll a dashboard makes (answered in full; the socket closes after it)."""
    body = b"SELECT count() FROM otel_traces"
    return (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def half_insert(port: int, auth: str) -> bytes:
    """An insert announcing 1 MB of rows that stops after the first few."""
    sql = "INSERT%20INTO%20exos_demo_sessions%20(session_id)%20FORMAT%20TSV"
    rows = b"".join(f"abandoned-{i}\n".encode() for i in range(100))
    return (
        f"POST /?query={sql} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}"
        f"Content-Length: {1 << 20}\r\n\r\n"
    ).encode() + rows


def test_up_demo_keeps_answering_while_clients_abandon_streams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXOS_DEMO_SCALE", SCALE)
    up = DumpingUp(tmp_path / "data", demo=True)
    up.start()
    watch = HealthWatch(f"{up.portal}/healthz")
    watcher = threading.Thread(target=watch.run, daemon=True)
    watcher.start()
    portal, clickhouse = up.ports["port"], up.ports["clickhouse"]
    auth = clickhouse_auth(up.clickhouse_password)
    abandoned = 0
    try:
        deadline = time.monotonic() + LOAD_DEADLINE_S
        while "demo loaded" not in up.log.read_text() and time.monotonic() < deadline:
            if watch.frozen():
                break
            for port, request in (
                (portal, ocel_export(portal)),
                (clickhouse, streamed_query(clickhouse, auth)),
                (clickhouse, half_insert(clickhouse, auth)),
                (clickhouse, count_spans(clickhouse, auth)),
            ):
                try:
                    hang_up_after_first_bytes(port, request)
                    abandoned += 1
                except OSError:
                    pass  # a refused or reset connection is the server's business
        watch.stop()
        watcher.join(5)
        loaded = "demo loaded" in up.log.read_text()
        if watch.frozen() or not loaded:
            assert up.process is not None
            up.process.send_signal(signal.SIGUSR1)  # faulthandler: every thread's stack
            time.sleep(1)
            up.process.kill()  # a frozen process does not stop on Ctrl-C
            up.process.wait(10)
        tail = up.log.read_text()[-6000:]
        print(f"/healthz during the demo load: {watch.summary()}; {abandoned} streams abandoned")
        assert not watch.frozen(), f"/healthz stopped answering: {watch.summary()}\n{tail}"
        assert loaded, f"the demo did not finish loading in {LOAD_DEADLINE_S}s\n{tail}"
        assert watch.missed <= MAX_MISSED_SHARE * len(watch.latencies), watch.summary()
        assert abandoned >= 3  # at least one round of each kind of abandoned stream
        # The streams abandoned during the load left the platform fully usable.
        export = httpx.get(f"{up.portal}/api/ocpm/export/ocel", timeout=60)
        assert export.status_code == 200
        assert export.json()["events"]
        # An insert cut off half-way commits nothing.
        abandoned_rows = httpx.post(
            f"http://127.0.0.1:{clickhouse}/",
            content=b"SELECT count() FROM exos_demo_sessions WHERE session_id LIKE 'abandoned-%'",
            auth=("default", up.clickhouse_password),
        )
        assert abandoned_rows.text.strip() == "0"
    finally:
        watch.stop()
        if up.process is not None and up.process.poll() is None:
            assert up.interrupt() == 0, up.log.read_text()[-3000:]
