"""`exos up`'s ClickHouse port under attack: it has a password from the first start (kept
0600 in the data folder, shown in the start banner, the same after a restart), refuses
requests without it, browser requests from other sites, rebound Host names and reads of
local files, while the pipeline, the portal and a client holding the password work."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import httpx

from tests.allinone.test_up import Up, span_body


def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.headers.get("X-ClickHouse-Exception-Code", "")


def _banner(up: Up, timeout_s: float = 60.0) -> str:
    """The log once the start banner is in it: `/readyz` can answer a moment before the
    banner is written."""
    deadline = time.monotonic() + timeout_s
    while "EXOS is up" not in (text := up.log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return text


def test_up_clickhouse_port_requires_the_generated_password(tmp_path: Path) -> None:
    up = Up(tmp_path / "data")
    up.start()
    try:
        password_file = tmp_path / "data" / "clickhouse" / "password"
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        password = up.clickhouse_password
        assert len(password) == 32
        banner = _banner(up)
        assert f"user default, password {password}" in banner
        assert f"kept in {password_file.resolve()}" in banner

        ch = f"http://127.0.0.1:{up.ports['clickhouse']}"
        auth = ("default", password)
        assert _code(httpx.post(ch, content="SELECT 1")) == (401, "516")
        assert _code(httpx.post(ch, content="SELECT 1", auth=("default", "guess"))) == (401, "516")
        cross_site = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
        assert _code(httpx.post(ch, content="SELECT 1", headers=cross_site)) == (403, "497")
        rebound = {"Host": f"evil.example:{up.ports['clickhouse']}"}
        assert _code(httpx.post(ch, content="SELECT 1", headers=rebound, auth=auth)) == (
            403,
            "497",
        )
        passwd = httpx.post(ch, content="SELECT file('/etc/passwd')", auth=auth)
        assert _code(passwd) == (403, "497") and "root:" not in passwd.text
        ddl = {"query": "DROP TABLE otel_traces"}
        assert _code(httpx.get(ch, params=ddl, auth=auth)) == (403, "164")

        # The pipeline (ingest -> writer, in-process) and the portal still work.
        otlp = f"http://127.0.0.1:{up.ports['otlp']}"
        assert httpx.post(f"{otlp}/v1/traces", json=span_body("s-auth", 7)).status_code == 200
        client = up.clickhouse_client()
        count = (
            "SELECT count() FROM otel_traces WHERE ResourceAttributes['rum.sessionId'] = 's-auth'"
        )
        deadline = time.monotonic() + 30
        while client.query(count).result_rows[0][0] < 7 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.query(count).result_rows[0][0] == 7
        sessions = httpx.get(f"{up.portal}/api/sessions", timeout=30)  # reads the store
        assert sessions.status_code == 200, sessions.text
    finally:
        assert up.interrupt() == 0, up.log.read_text()[-3000:]

    up.start()  # a restart keeps the password: clients configured with it keep working
    try:
        assert up.clickhouse_password == password
        assert up.clickhouse_client().query(count).result_rows[0][0] == 7
    finally:
        assert up.interrupt() == 0
