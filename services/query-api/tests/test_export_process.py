"""Distributed mode: query-api as its own process against the embedded ClickHouse server.
Browsers that leave OCEL downloads half-read, again and again, neither stop query-api
answering nor hold back inserts into the server, and leave no query running behind.
(Over HTTP no client lock is shared, so this mode never had the all-in-one's freeze;
the test keeps it that way.)"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import clickhouse_connect
import httpx
import pytest

from exos_common.schema import migrate
from exos_common.settings import StoreSettings
from exos_common.store import Store, open_store
from exos_common.testing.clickhouse import ClickHouseServer, free_port

pytestmark = pytest.mark.clickhouse_server

SERVE_QUERY_API = (
    "import sys; from exos_common.service.runner import run_app; "
    "from exos_query_api.app import create_app; "
    "run_app(create_app(), '127.0.0.1', int(sys.argv[1]), on_ready=print)"
)
ROUNDS = 4
# Each abandoned download is held this long before the client leaves: a request stuck
# behind it would wait at least this long, so the bound below (FROZEN_S) tells a frozen
# answer from a slow one on a loaded machine (1.75 s seen at load average 17).
STALL_S = 4.0
FROZEN_S = 3.5


@pytest.fixture
def database(clickhouse_server: ClickHouseServer) -> Iterator[tuple[StoreSettings, Store]]:
    settings = StoreSettings(
        clickhouse_url=clickhouse_server.url,
        clickhouse_database=f"exportproc_{uuid.uuid4().hex[:10]}",
    )
    store = open_store(settings, create_database=True)
    migrate(store, settings, dedup_window=100)
    store.command(
        "INSERT INTO process_events (Timestamp, OrderId, Activity, SpanId, VendorId,"
        " OperatorId, SessionId)"
        " SELECT now64(9) - toIntervalSecond(number), concat('O-', toString(number % 500)),"
        " 'order.created', hex(number), 'V-1', 'op-a', 's-1' FROM numbers(20000)"
    )
    yield settings, store
    store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    store.close()


@pytest.fixture
def query_api(database: tuple[StoreSettings, Store], tmp_path: Path) -> Iterator[str]:
    settings, _ = database
    port = free_port()
    env = dict(
        os.environ,
        EXOS_CLICKHOUSE_URL=settings.clickhouse_url,
        EXOS_CLICKHOUSE_DATABASE=settings.clickhouse_database,
    )
    log = tmp_path / "query-api.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE_QUERY_API, str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(30)


def abandon_export(port: int, query: str) -> None:
    request = f"GET /api/ocpm/export/ocel?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request.encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(STALL_S)


def test_abandoned_exports_hold_nothing_back(
    database: tuple[StoreSettings, Store], query_api: str
) -> None:
    settings, store = database
    now = datetime.now(UTC)
    window = {
        "from": (now - timedelta(days=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
    }
    query = httpx.QueryParams(window).__str__()
    health_worst = 0.0
    insert_worst = 0.0
    stop = threading.Event()

    def probe_health() -> None:
        nonlocal health_worst
        while not stop.is_set():
            began = time.monotonic()
            try:
                httpx.get(f"{query_api}/healthz", timeout=10).raise_for_status()
                health_worst = max(health_worst, time.monotonic() - began)
            except httpx.HTTPError:
                health_worst = float("inf")
            stop.wait(0.25)

    def insert_marks() -> None:
        nonlocal insert_worst
        client = clickhouse_connect.get_client(
            dsn=settings.clickhouse_url, database=settings.clickhouse_database
        )
        n = 0
        while not stop.is_set():
            began = time.monotonic()
            client.insert("export_test_marks", [[n]], column_names=["n"])
            insert_worst = max(insert_worst, time.monotonic() - began)
            n += 1
            stop.wait(0.1)

    store.command("CREATE TABLE export_test_marks (n UInt64) ENGINE = MergeTree ORDER BY n")
    watchers = [threading.Thread(target=f, daemon=True) for f in (probe_health, insert_marks)]
    for watcher in watchers:
        watcher.start()
    port = int(query_api.rsplit(":", 1)[1])
    try:
        for _ in range(ROUNDS):
            abandon_export(port, query)
    finally:
        stop.set()
        for watcher in watchers:
            watcher.join(10)
    assert health_worst < FROZEN_S
    assert insert_worst < FROZEN_S
    inserted = store.query_rows("SELECT count() FROM export_test_marks")[0][0]
    assert inserted >= 2 * ROUNDS  # inserts went on all along (one per 0.1 s + its time)
    # The abandoned exports' queries are gone (only this one runs), and a full export
    # still gives every event.
    running = store.query_rows(
        "SELECT count() FROM system.processes WHERE query LIKE '%FROM process_events%'"
    )
    assert running == [(1,)]
    export = httpx.get(f"{query_api}/api/ocpm/export/ocel", params=window, timeout=60)
    assert export.status_code == 200
    assert len(export.json()["events"]) == 20000
