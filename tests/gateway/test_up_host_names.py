"""`exos up` answers only its own Host names on the portal port (a page of another site
that points its own name at 127.0.0.1 — DNS rebinding — gets 400), and refuses a
state-changing request sent from another site's page."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from exos.allinone import portal_host_names
from exos_common.localkafka import free_port


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("up")
    port = free_port()
    env = {**os.environ, "EXOS_ALLOWED_HOSTS": "Portal.Internal, exos.example.com"}
    log = (folder / "up.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "exos", "up", "--data", str(folder / "data"), "--port", str(port),
         "--otlp-port", str(free_port()), "--clickhouse-port", str(free_port())],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (folder / "up.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "exos up did not become ready"
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(90)
        log.close()


def _status(url: str, host: str, path: str = "/api/stats/summary") -> int:
    return httpx.get(f"{url}{path}", headers={"Host": host}, timeout=30).status_code


def test_its_own_names_are_answered(portal: str) -> None:
    port = portal.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "localhost"):
        assert _status(portal, host, "/healthz") == 200, host
    for host in ("portal.internal", f"PORTAL.internal:{port}", "exos.example.com"):
        assert _status(portal, host, "/healthz") == 200, host


def test_a_rebound_name_is_refused(portal: str) -> None:
    port = portal.rsplit(":", 1)[1]
    for host in (f"evil.example:{port}", "evil.example", "127.0.0.1.evil.example", "", "[::2]"):
        assert _status(portal, host) == 400, host
        assert _status(portal, host, "/") == 400, host


def test_a_cross_site_post_is_refused(portal: str) -> None:
    port = portal.rsplit(":", 1)[1]
    body = {"sql": "SELECT 1"}
    evil = httpx.post(
        f"{portal}/api/insights/sql", json=body, headers={"Origin": "http://evil.example"}
    )
    assert evil.status_code == 403
    assert evil.json()["error"]["code"] == "foreign_origin"
    own = httpx.post(
        f"{portal}/api/insights/sql", json=body, headers={"Origin": f"http://127.0.0.1:{port}"}
    )
    assert own.status_code == 200
    assert own.json()["rows"] == [[1]]


@pytest.mark.parametrize(
    ("bind", "extra", "expected"),
    [
        ("127.0.0.1", [], ["localhost", "127.0.0.1", "[::1]"]),
        ("0.0.0.0", ["Exos.Lan"], ["localhost", "127.0.0.1", "[::1]", "exos.lan"]),
        ("192.168.1.20", [], ["localhost", "127.0.0.1", "[::1]", "192.168.1.20"]),
        ("fd00::5", [], ["localhost", "127.0.0.1", "[::1]", "[fd00::5]"]),
        ("::", [], ["localhost", "127.0.0.1", "[::1]"]),
    ],
)
def test_host_names_of_a_bind_address(bind: str, extra: list[str], expected: list[str]) -> None:
    assert portal_host_names(bind, extra) == expected
