"""`exos up` reads well on a first run: on a terminal, short readable lines, the banner
with the addresses once, and none of uvicorn's start-up lines (three servers would say
each of them three times); piped, the same events as JSON lines."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from exos_common.localkafka import free_port

UVICORN_START_UP = (
    "Started server process",
    "Waiting for application startup",
    "Uvicorn running on",
)


def _command(data: Path) -> tuple[list[str], str]:
    port = free_port()
    command = [sys.executable, "-m", "exos", "up", "--data", str(data), "--port", str(port)]
    command += ["--otlp-port", str(free_port()), "--clickhouse-port", str(free_port())]
    return command, f"http://127.0.0.1:{port}"


def _env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXOS_LOG")}
    return {**env, "NO_COLOR": "1", **overrides}


def _wait_ready(
    portal: str, process: subprocess.Popen[bytes], read: Callable[[], None] | None
) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "exos up exited early"
        try:
            if httpx.get(f"{portal}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if read is not None:
            read()
        time.sleep(0.3)
    raise TimeoutError("exos up did not get ready")


def test_on_a_terminal_the_first_run_is_readable_and_quiet(tmp_path: Path) -> None:
    command, portal = _command(tmp_path / "data")
    leader, follower = os.openpty()
    output = bytearray()

    def read() -> None:
        while select.select([leader], [], [], 0)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            output.extend(chunk)

    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=_env()
    )
    os.close(follower)
    try:
        _wait_ready(portal, process, read)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(90)
        read()
        os.close(leader)
    text = output.decode(errors="replace").replace("\r\n", "\n")
    assert code == 0, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert not [line for line in lines if line.lstrip().startswith("{")], text
    assert text.count("EXOS is up (all-in-one") == 1, text
    assert f"portal + API    {portal}" in text
    schema = [line for line in lines if "schema_ready" in line]
    assert len(schema) == 1 and "info" in schema[0], text
    for start_up in UVICORN_START_UP:
        assert start_up not in text, text


def test_piped_the_log_is_json_lines_without_uvicorn_start_up(tmp_path: Path) -> None:
    command, portal = _command(tmp_path / "data")
    log = tmp_path / "up.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, env=_env()
        )
    try:
        _wait_ready(portal, process, None)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(90)
    text = log.read_text()
    assert code == 0, text[-3000:]
    events = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert [e["service"] for e in events if e["event"] == "schema_ready"] == ["exos-up"]
    banner = [line for line in text.splitlines() if line and not line.startswith("{")]
    assert banner[0] == "EXOS is up (all-in-one, open on this machine)", text[-3000:]
    assert not [e for e in events if e["event"].startswith(UVICORN_START_UP)], text[-3000:]
