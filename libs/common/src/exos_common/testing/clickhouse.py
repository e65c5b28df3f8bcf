"""pytest plugin: the embedded ClickHouse server (`exos_common.chserver`) in a subprocess.

Fixture `clickhouse_server` (session scope) yields a `ClickHouseServer` with

- `.url`: ``"http://default:PASSWORD@127.0.0.1:PORT"``, the credentials included, for
  ``clickhouse_connect.get_client(dsn=url)``, ``EXOS_CLICKHOUSE_URL`` or httpx (which turns
  them into Basic auth);
- `.base_url`: ``"http://127.0.0.1:PORT"``, without credentials;
- `.user`, `.password`: the credentials (the server refuses requests without them);
- `.port`: the port number;
- `.data_dir`: the chDB folder the server owns (None for a server given by env, below).

::

    @pytest.mark.clickhouse_server
    def test_round_trip(clickhouse_server: ClickHouseServer) -> None:
        client = clickhouse_connect.get_client(dsn=clickhouse_server.url)

The server is started once per session on a free port in a temporary folder and stopped
(SIGTERM, graceful) at session end. It is shared: give tables unique names or create a
database per test module. Set `EXOS_TEST_CLICKHOUSE_URL=http://user:password@host:port` to
use a server that already runs (e.g. `exos clickhouse serve`); nothing is started or stopped then.

Tests that need to stop, SIGKILL or restart a server use `EmbeddedClickHouseServer`
directly; it is also a context manager::

    with EmbeddedClickHouseServer(tmp_path / "ch") as server:
        ...
        server.kill()      # SIGKILL: no flush, no goodbye
        server.start()     # same folder, same port, same url
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import quote, unquote, urlsplit

import pytest

from exos_common.chserver.credentials import DEFAULT_USER, load_or_create_password

URL_ENV = "EXOS_TEST_CLICKHOUSE_URL"


@dataclass(frozen=True)
class ClickHouseServer:
    url: str  # "http://default:PASSWORD@127.0.0.1:PORT"
    port: int
    data_dir: Path | None  # None for a server given by EXOS_TEST_CLICKHOUSE_URL
    user: str = "default"
    password: str = ""

    @property
    def base_url(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port or 8123}"


def url_with_credentials(base_url: str, user: str, password: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc}"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedClickHouseServer:
    """One `python -m exos_common.chserver` process serving `data_dir` on a fixed port, so
    the URL stays valid across kill() and start(). Its logs go to `log_path`; its password
    is in `password_file` (next to the folder; made on first start, kept across restarts)."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self._pick_port = port is None
        self.port = port if port is not None else free_port(host)
        self.log_path = log_path or self.data_dir.with_name(self.data_dir.name + ".log")
        self.password_file = self.data_dir.with_name(self.data_dir.name + ".password")
        self.user = DEFAULT_USER
        self.password = load_or_create_password(self.password_file)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """With the credentials, for clickhouse-connect's dsn and httpx."""
        return url_with_credentials(self.base_url, self.user, self.password)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def info(self) -> ClickHouseServer:
        return ClickHouseServer(
            url=self.url,
            port=self.port,
            data_dir=self.data_dir,
            user=self.user,
            password=self.password,
        )

    def start(self, timeout: float = 60.0) -> EmbeddedClickHouseServer:
        """Start and wait until `/ping` answers; raise with the log tail if it does not."""
        if self.running:
            raise RuntimeError(f"server already running (pid {self.process.pid})")  # type: ignore[union-attr]
        # A port picked free can be taken before the server binds it: retry on a new one.
        for attempt in range(3 if self._pick_port else 1):
            self._spawn()
            if self._wait_ready(timeout):
                return self
            if attempt < 2 and self._pick_port and not self.running:
                self.port = free_port(self.host)
                continue
            break
        self.kill()
        raise RuntimeError(
            f"embedded ClickHouse did not become ready at {self.base_url}:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (graceful: in-flight requests finish, the engine flushes); SIGKILL after
        `timeout`. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self, timeout: float = 60.0) -> EmbeddedClickHouseServer:
        self.stop()
        return self.start(timeout)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> EmbeddedClickHouseServer:
        return self.start() if not self.running else self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def _spawn(self) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "exos_common.chserver", "--data", str(self.data_dir)]
        command += ["--host", self.host, "--port", str(self.port)]
        command += ["--password-file", str(self.password_file)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=dict(os.environ)
            )

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.running:
            try:
                with urllib.request.urlopen(f"{self.base_url}/ping", timeout=1) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        return False


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    """A running embedded ClickHouse server for the session; see the module docstring."""
    given = os.environ.get(URL_ENV)
    if given:
        parts = urlsplit(given)
        yield ClickHouseServer(
            url=given.rstrip("/"),
            port=parts.port or 8123,
            data_dir=None,
            user=unquote(parts.username or DEFAULT_USER),
            password=unquote(parts.password or ""),
        )
        return
    server = EmbeddedClickHouseServer(tmp_path_factory.mktemp("clickhouse_server") / "data")
    server.start()
    try:
        yield server.info()
    finally:
        server.stop()
