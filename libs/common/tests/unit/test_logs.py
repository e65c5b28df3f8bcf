"""The log format follows where stderr goes (readable on a terminal, JSON elsewhere, or
what EXOS_LOG_FORMAT forces), and the chatty libraries stay quiet."""

from __future__ import annotations

import io
import json
import logging
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import TextIO

import httpx
import pytest
import structlog

from exos_common.logs import configure_logging, get_logger, resolve_format
from exos_common.settings import RuntimeSettings

LOUD = ("httpx", "httpcore", "uvicorn.error")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in LOUD}
    yield
    root.handlers, root.level = handlers, level
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)
    structlog.reset_defaults()


@pytest.fixture
def terminal() -> Iterator[TextIO]:
    """The writing end of a real pseudo-terminal, as a text stream."""
    leader, follower = os.openpty()
    stream = open(follower, "w")  # noqa: SIM115 (closed below)
    yield stream
    stream.close()
    os.close(leader)


def test_auto_is_console_on_a_terminal_and_json_elsewhere(terminal: TextIO) -> None:
    read_end, write_end = os.pipe()
    with open(write_end, "w") as pipe:
        assert resolve_format("auto", terminal) == "console"
        assert resolve_format("auto", pipe) == "json"
        assert resolve_format("auto", io.StringIO()) == "json"
    os.close(read_end)


def test_an_explicit_format_wins_over_the_stream(terminal: TextIO) -> None:
    assert resolve_format("json", terminal) == "json"
    assert resolve_format("console", io.StringIO()) == "console"


def test_a_closed_or_odd_stream_is_no_terminal(terminal: TextIO) -> None:
    closed = io.StringIO()
    closed.close()
    assert resolve_format("auto", closed) == "json"
    assert resolve_format("auto", object()) == "json"  # type: ignore[arg-type]


def test_auto_off_a_terminal_writes_one_json_object_per_line() -> None:
    out = io.StringIO()
    chosen = configure_logging(RuntimeSettings(log_format="auto"), service="svc", stream=out)
    get_logger("test").info("schema_ready", applied=2)
    logging.getLogger("aiokafka").warning("broker gone")
    assert chosen == "json"
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["event"], e["level"], e["service"]) for e in lines] == [
        ("schema_ready", "info", "svc"),
        ("broker gone", "warning", "svc"),
    ]
    assert lines[0]["applied"] == 2
    assert lines[1]["logger"] == "aiokafka"
    assert lines[0]["timestamp"].endswith("Z")


def test_console_lines_are_readable_and_plain_off_a_terminal() -> None:
    out = io.StringIO()
    chosen = configure_logging(RuntimeSettings(log_format="console"), stream=out)
    get_logger("test").info("schema_ready", applied=2)
    assert chosen == "console"
    (line,) = out.getvalue().splitlines()
    assert not line.startswith("{")
    assert "schema_ready" in line and "applied=2" in line and "info" in line
    assert "\x1b[" not in line  # no colour codes in a file
    assert "service=" not in line


def _httpx_get(client_log_level: str, out: io.StringIO) -> None:
    configure_logging(RuntimeSettings(log_level=client_log_level), stream=out)
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    with httpx.Client(transport=transport) as client:
        assert client.get("http://ingest.test/v1/traces").status_code == 200


def test_httpx_request_lines_are_left_out_at_info() -> None:
    out = io.StringIO()
    _httpx_get("INFO", out)
    logging.getLogger("httpx").warning("retrying")
    events = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert events == ["retrying"]


def test_debug_shows_httpx_request_lines() -> None:
    out = io.StringIO()
    _httpx_get("DEBUG", out)
    events = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert 'HTTP Request: GET http://ingest.test/v1/traces "HTTP/1.1 200 OK"' in events


@pytest.mark.parametrize(("server_banner", "expected"), [(True, 2), (False, 1)])
def test_uvicorn_start_up_lines_only_when_asked(server_banner: bool, expected: int) -> None:
    out = io.StringIO()
    configure_logging(RuntimeSettings(), server_banner=server_banner, stream=out)
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.info("Started server process [1]")
    uvicorn_log.error("Exception in ASGI application")
    events = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert events == ["Started server process [1]", "Exception in ASGI application"][-expected:]


SCRIPT = (
    "from exos_common.logs import configure_logging, get_logger\n"
    "configure_logging(service='svc')\n"
    "get_logger('x').info('hello', n=1)\n"
)


def _run_with_stderr_on_a_terminal(env: dict[str, str]) -> str:
    leader, follower = os.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", SCRIPT],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=follower,
            env=env,
        )
        os.close(follower)
        output = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the terminal closed: the process is done
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
        assert process.wait(30) == 0, output
        return output.decode()
    finally:
        os.close(leader)


def _env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXOS_LOG")}
    env["NO_COLOR"] = "1"
    return {**env, **overrides}


def test_a_process_on_a_terminal_writes_readable_lines() -> None:
    output = _run_with_stderr_on_a_terminal(_env())
    (line,) = [line for line in output.splitlines() if "hello" in line]
    assert not line.lstrip().startswith("{")
    assert "n=1" in line


def test_a_process_on_a_terminal_writes_json_when_asked() -> None:
    output = _run_with_stderr_on_a_terminal(_env(EXOS_LOG_FORMAT="json"))
    (line,) = [line for line in output.splitlines() if "hello" in line]
    event = json.loads(line)
    assert (event["event"], event["n"], event["service"]) == ("hello", 1, "svc")


def test_a_process_writing_to_a_pipe_writes_json() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, env=_env(), timeout=60, check=True
    )
    (event,) = [json.loads(line) for line in result.stderr.decode().splitlines()]
    assert (event["event"], event["n"]) == ("hello", 1)
