"""Separate processes sharing one embedded database, crashes and shutdowns of the server."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from exos_common.testing.clickhouse import ClickHouseServer, EmbeddedClickHouseServer, free_port

pytestmark = pytest.mark.clickhouse_server

WRITER = """
import sys, clickhouse_connect
client = clickhouse_connect.get_client(dsn=sys.argv[1])
table = "shared_{suffix}"
client.command(f"CREATE TABLE {{table}} (id UInt64, page String) ENGINE = MergeTree ORDER BY id")
rows = [[1, "/home"], [2, "/cart"], [3, "/checkout"]]
client.insert(table, rows, column_names=["id", "page"])
"""

READER = """
import json, sys, clickhouse_connect
client = clickhouse_connect.get_client(dsn=sys.argv[1])
rows = client.query("SELECT id, page FROM shared_{suffix} ORDER BY id").result_rows
print(json.dumps([list(row) for row in rows]))
"""


def _run(script: str, url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script, url], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_second_process_writes_third_process_reads(clickhouse_server: ClickHouseServer) -> None:
    suffix = str(time.monotonic_ns())
    _run(WRITER.format(suffix=suffix), clickhouse_server.url)
    rows = json.loads(_run(READER.format(suffix=suffix), clickhouse_server.url))
    assert rows == [[1, "/home"], [2, "/cart"], [3, "/checkout"]]


def test_acknowledged_insert_survives_sigkill(tmp_path: Path) -> None:
    with EmbeddedClickHouseServer(tmp_path / "data") as server:
        client = clickhouse_connect.get_client(dsn=server.url)
        client.command("CREATE TABLE spans (id UInt64, name String) ENGINE = MergeTree ORDER BY id")
        summary = client.insert(
            "spans", [[i, f"span-{i}"] for i in range(1, 11)], column_names=["id", "name"]
        )
        assert summary.written_rows == 10  # acknowledged
        server.kill()
        assert server.process is not None and server.process.returncode == -signal.SIGKILL
        server.start()  # same folder, same port
        client = clickhouse_connect.get_client(dsn=server.url)
        assert client.query("SELECT count(), sum(id), max(name) FROM spans").result_rows == [
            (10, 55, "span-9")
        ]


def test_sigterm_lets_the_in_flight_query_finish(tmp_path: Path) -> None:
    server = EmbeddedClickHouseServer(tmp_path / "data").start()
    try:
        client = clickhouse_connect.get_client(dsn=server.url)
        result: dict[str, object] = {}

        def slow_query() -> None:
            sql = "SELECT sum(sleepEachRow(0.001)) + 7 FROM numbers(800)"
            sql += " SETTINGS max_block_size = 100"
            result["value"] = client.command(sql)

        worker = threading.Thread(target=slow_query)
        worker.start()
        time.sleep(0.3)  # the query is running
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        worker.join(timeout=30)
        assert result.get("value") == 7
        assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
        assert '"drained": true' in server.log_tail()
    finally:
        server.kill()


def test_exos_clickhouse_serve_prints_url_and_stops_on_sigint(tmp_path: Path) -> None:
    """Without --password-file the server makes <data>/password (0600) and requires it."""
    port = free_port()
    command = [sys.executable, "-c", "from exos.cli import main; main()", "clickhouse", "serve"]
    command += ["--data", str(tmp_path / "data"), "--port", str(port)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"http://127.0.0.1:{port}"
        password_file = tmp_path / "data" / "password"
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        password = password_file.read_text().strip()
        assert len(password) == 32
        with pytest.raises(DatabaseError, match="AUTHENTICATION_FAILED"):
            clickhouse_connect.get_client(dsn=f"http://127.0.0.1:{port}")
        client = clickhouse_connect.get_client(
            host="127.0.0.1", port=port, username="default", password=password
        )
        assert client.command("SELECT 1 + 1") == 2
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()


@pytest.mark.parametrize("given_by", ["flag", "env"])
def test_exos_clickhouse_serve_takes_a_password_file(tmp_path: Path, given_by: str) -> None:
    password_file = tmp_path / "secret" / "ch-password"
    password_file.parent.mkdir()
    password_file.write_text("chosen by the operator\n")
    port = free_port()
    command = [sys.executable, "-c", "from exos.cli import main; main()", "clickhouse", "serve"]
    command += ["--data", str(tmp_path / "data"), "--port", str(port)]
    env = dict(os.environ)
    if given_by == "flag":
        command += ["--password-file", str(password_file)]
        env["EXOS_CLICKHOUSE_SERVER_PASSWORD_FILE"] = str(tmp_path / "not-this-one")
    else:
        env["EXOS_CLICKHOUSE_SERVER_PASSWORD_FILE"] = str(password_file)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"http://127.0.0.1:{port}"
        client = clickhouse_connect.get_client(
            host="127.0.0.1", port=port, username="default", password="chosen by the operator"
        )
        assert client.command("SELECT 40 + 2") == 42
        assert not (tmp_path / "data" / "password").exists()
        assert not (tmp_path / "not-this-one").exists()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
