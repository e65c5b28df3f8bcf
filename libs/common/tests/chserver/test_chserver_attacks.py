"""An attacker against the embedded ClickHouse server process: every attack that worked on
the open server is refused with its status, ClickHouse error code and reason, nothing
leaks or is written, and afterwards the server still serves its legitimate clients."""

from __future__ import annotations

import base64
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import clickhouse_connect
import httpx
import pytest

from exos_common.testing.clickhouse import EmbeddedClickHouseServer

pytestmark = pytest.mark.clickhouse_server

CANARY = f"canary-{uuid.uuid4().hex}"  # in the server's environment; must never come back


class Listener:
    """A TCP port that counts connections: proof that url()/remote() reached nothing."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@dataclass(frozen=True)
class Target:
    server: EmbeddedClickHouseServer
    listener: Listener
    outside: Path  # a folder outside the database the attacker tries to write into

    @property
    def base(self) -> str:
        return self.server.base_url

    @property
    def auth(self) -> tuple[str, str]:
        return (self.server.user, self.server.password)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    root = tmp_path_factory.mktemp("attacked")
    os.environ["EXOS_ATTACK_CANARY"] = CANARY  # the subprocess inherits it
    try:
        server = EmbeddedClickHouseServer(root / "data").start()
    finally:
        del os.environ["EXOS_ATTACK_CANARY"]
    listener = Listener()
    outside = root / "outside"
    outside.mkdir()
    try:
        yield Target(server, listener, outside)
    finally:
        listener.close()
        server.stop()


def _refused(response: httpx.Response, status: int, code: int, reason: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["X-ClickHouse-Exception-Code"] == str(code)
    assert response.text.startswith(f"Code: {code}. DB::Exception: "), response.text
    assert reason in response.text, response.text
    assert "root:x:0:0" not in response.text and CANARY not in response.text


def _post(target: Target, sql: str, **kwargs: object) -> httpx.Response:
    return httpx.post(target.base, content=sql, auth=target.auth, timeout=30, **kwargs)  # type: ignore[arg-type]


# --- authentication ---------------------------------------------------------------------

AUTH_FAILED = "Authentication failed: password is incorrect, or there is no user with such name"


def test_no_credentials_is_401_authentication_failed(target: Target) -> None:
    response = httpx.post(target.base, content="SELECT 1")
    _refused(response, 401, 516, f"default: {AUTH_FAILED}. (AUTHENTICATION_FAILED)")


@pytest.mark.parametrize(
    "how",
    ["basic", "headers", "params", "wrong_user_right_password", "empty_password", "bad_base64"],
)
def test_wrong_credentials_are_refused_every_way(target: Target, how: str) -> None:
    wrong = target.server.password[:-1] + ("x" if target.server.password[-1] != "x" else "y")
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    if how == "basic":
        headers["Authorization"] = "Basic " + base64.b64encode(f"default:{wrong}".encode()).decode()
    elif how == "headers":
        headers |= {"X-ClickHouse-User": "default", "X-ClickHouse-Key": wrong}
    elif how == "params":
        params |= {"user": "default", "password": wrong}
    elif how == "wrong_user_right_password":
        headers |= {"X-ClickHouse-User": "admin", "X-ClickHouse-Key": target.server.password}
    elif how == "empty_password":
        headers |= {"X-ClickHouse-User": "default", "X-ClickHouse-Key": ""}
    else:
        headers["Authorization"] = "Basic %%%not-base64"
    response = httpx.post(target.base, content="SELECT 1", headers=headers, params=params)
    _refused(response, 401, 516, AUTH_FAILED)


@pytest.mark.parametrize("how", ["basic", "headers", "params"])
def test_right_credentials_work_every_clickhouse_way(target: Target, how: str) -> None:
    user, password = target.auth
    kwargs: dict[str, object] = {}
    if how == "basic":
        kwargs["auth"] = (user, password)
    elif how == "headers":
        kwargs["headers"] = {"X-ClickHouse-User": user, "X-ClickHouse-Key": password}
    else:
        kwargs["params"] = {"user": user, "password": password}
    response = httpx.post(target.base, content="SELECT 1 + 1", **kwargs)  # type: ignore[arg-type]
    assert (response.status_code, response.text) == (200, "2\n")


def test_ping_and_health_stay_open(target: Target) -> None:
    assert httpx.get(f"{target.base}/ping").text == "Ok.\n"
    assert httpx.get(f"{target.base}/readyz").status_code == 200
    assert httpx.get(f"{target.base}/").text == "Ok.\n"  # a bare GET /, as ClickHouse


def test_sql_in_a_get_body_needs_credentials_too(target: Target) -> None:
    response = httpx.request("GET", f"{target.base}/", content="SELECT file('/etc/passwd')")
    _refused(response, 401, 516, AUTH_FAILED)
    chunked = httpx.request("GET", f"{target.base}/", content=iter([b"SELECT 1"]))
    _refused(chunked, 401, 516, AUTH_FAILED)


# --- GET is read-only -------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE get_made (a UInt8) ENGINE = MergeTree ORDER BY a",
        "DROP TABLE get_victim",
        "TRUNCATE TABLE get_victim",
        "INSERT INTO get_victim VALUES (9)",
    ],
)
def test_get_cannot_change_anything(target: Target, sql: str) -> None:
    _post(target, "CREATE TABLE IF NOT EXISTS get_victim (a UInt8) ENGINE = Memory")
    _post(target, "TRUNCATE TABLE get_victim")
    _post(target, "INSERT INTO get_victim VALUES (1)")
    for params in ({"query": sql}, {"query": sql, "readonly": "0"}):
        response = httpx.get(target.base, params=params, auth=target.auth)
        _refused(response, 403, 164, "readonly mode")
    assert _post(target, "EXISTS TABLE get_made").text == "0\n"
    assert _post(target, "SELECT groupArray(a) FROM get_victim").text == "[1]\n"


def test_get_cannot_lift_readonly_in_the_query(target: Target) -> None:
    params = {"query": "SELECT 1 SETTINGS readonly = 0"}
    response = httpx.get(target.base, params=params, auth=target.auth)
    _refused(response, 403, 164, "Cannot modify 'readonly' setting in readonly mode")


def test_get_still_reads(target: Target) -> None:
    response = httpx.get(target.base, params={"query": "SELECT 40 + 2"}, auth=target.auth)
    assert (response.status_code, response.text) == (200, "42\n")


# --- files, network, programs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "name"),
    [
        ("SELECT * FROM file('/etc/passwd', 'LineAsString')", "file"),
        ("SELECT file('/etc/passwd')", "file"),
        ("SELECT `file`('/etc/passwd')", "file"),
        ("SELECT FiLe('/proc/self/environ')", "FiLe"),
        ("SELECT file /* hidden */ ('/proc/self/environ')", "file"),
        ("SELECT * FROM file('/proc/self/environ', 'RawBLOB')", "file"),
        ("WITH (SELECT file('/etc/passwd')) AS x SELECT x", "file"),
        ("SELECT 1 WHERE 1 IN (SELECT length(file('/etc/passwd')))", "file"),
        ("SELECT * FROM filesystem('/etc')", "filesystem"),
        ("SELECT * FROM executable('id', 'LineAsString', 'x String')", "executable"),
    ],
)
def test_local_files_and_programs_are_unreachable(target: Target, sql: str, name: str) -> None:
    _refused(_post(target, sql), 403, 497, f"{name} reaches files, other hosts or programs")


def test_the_process_environment_does_not_leak(target: Target) -> None:
    """The canary is in the server's environment: no way tried here returns it."""
    for sql in (
        "SELECT * FROM file('/proc/self/environ', 'RawBLOB')",
        "SELECT file('/proc/self/environ')",
        "SELECT * FROM system.settings WHERE value LIKE '%canary-%'",
        "SELECT * FROM system.server_settings WHERE value LIKE '%canary-%'",
    ):
        assert CANARY not in _post(target, sql).text


def test_network_is_unreachable(target: Target) -> None:
    here = f"127.0.0.1:{target.listener.port}"
    attacks = [
        (f"SELECT * FROM url('http://{here}/x', 'LineAsString')", "url"),
        (f"SELECT * FROM s3('http://{here}/bucket/x.csv', 'CSV')", "s3"),
        (f"SELECT * FROM remote('{here}', system.one)", "remote"),
        (f"SELECT * FROM remoteSecure('{here}', system.one)", "remoteSecure"),
        (f"SELECT * FROM mysql('{here}', 'db', 't', 'u', 'p')", "mysql"),
        (f"SELECT * FROM postgresql('{here}', 'db', 't', 'u', 'p')", "postgresql"),
        (f"INSERT INTO FUNCTION url('http://{here}/x', 'CSV', 'a String') VALUES ('a')", "url"),
        (f"CREATE TABLE via_url (a String) ENGINE = URL('http://{here}/x', 'CSV')", "URL"),
        ("CREATE TABLE via_dist (a UInt8) ENGINE = Distributed('c', 'd', 't')", "Distributed"),
    ]
    for sql, name in attacks:
        _refused(_post(target, sql), 403, 497, f"{name} reaches files, other hosts or programs")
    dictionary = (
        "CREATE DICTIONARY d (a String) PRIMARY KEY a "
        f"SOURCE(HTTP(url 'http://{here}/x' format 'CSV')) LAYOUT(FLAT()) LIFETIME(0)"
    )
    _refused(_post(target, dictionary), 403, 497, "Dictionary source http is not allowed")
    assert target.listener.connections == 0


def test_files_cannot_be_written(target: Target) -> None:
    out = target.outside
    attacks = [
        (f"SELECT 1 INTO OUTFILE '{out}/outfile.txt'", "INTO OUTFILE is not allowed"),
        (
            f"INSERT INTO FUNCTION file('{out}/fn.txt', 'LineAsString') SELECT 'x'",
            "file reaches files",
        ),
        (
            f"CREATE TABLE file_engine (a String) ENGINE = File(CSV, '{out}/engine.csv')",
            "File reaches files",
        ),
        (f"BACKUP TABLE system.one TO File('{out}/backup')", "BACKUP statements are not allowed"),
        (f"INSERT INTO t FROM INFILE '{out}/x' FORMAT CSV", "FROM INFILE is not allowed"),
    ]
    for sql, reason in attacks:
        _refused(_post(target, sql), 403, 497, reason)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SYSTEM SHUTDOWN", "SYSTEM statements are not allowed"),
        ("SYSTEM DROP DNS CACHE", "SYSTEM statements are not allowed"),
        ("RESTORE TABLE x FROM Disk('default', 'b')", "RESTORE statements are not allowed"),
        ("ATTACH TABLE a FROM '/etc' (x UInt8) ENGINE = Memory", "ATTACH statements are not"),
    ],
)
def test_process_and_disk_statements_are_refused(target: Target, sql: str, reason: str) -> None:
    _refused(_post(target, sql), 403, 497, reason)


def test_a_second_statement_cannot_ride_along(target: Target) -> None:
    response = _post(target, "SELECT 1; SELECT file('/etc/passwd')")
    assert response.headers["X-ClickHouse-Exception-Code"] == "62"
    assert "Multi-statements are not allowed" in response.text
    assert "root:x:0:0" not in response.text


def test_expressions_inside_insert_data_are_not_evaluated(target: Target) -> None:
    _post(target, "CREATE TABLE IF NOT EXISTS loot (a String) ENGINE = MergeTree ORDER BY a")
    inline = _post(target, "INSERT INTO loot VALUES (file('/etc/passwd'))")
    assert inline.status_code == 500 and "root:x:0:0" not in inline.text
    streamed = httpx.post(
        target.base,
        params={"query": "INSERT INTO loot FORMAT Values"},
        content="(file('/etc/passwd'))",
        auth=target.auth,
    )
    assert streamed.status_code == 500 and "root:x:0:0" not in streamed.text
    turn_on = "input_format_values_interpret_expressions"
    by_param = httpx.post(
        target.base,
        params={"query": "INSERT INTO loot FORMAT Values", turn_on: "1"},
        content="(file('/etc/passwd'))",
        auth=target.auth,
    )
    _refused(by_param, 403, 497, f"Setting {turn_on} cannot be changed over HTTP")
    by_clause = _post(target, f"INSERT INTO loot SETTINGS {turn_on} = 1 VALUES (file('/x'))")
    _refused(by_clause, 403, 497, f"Setting {turn_on} cannot be changed over HTTP")
    hidden = "SELECT * FROM format(Values, 'a String', '(file(''/etc/passwd''))')"
    from_literal = _post(target, hidden)
    assert from_literal.status_code == 500 and "root:x:0:0" not in from_literal.text
    assert _post(target, "SELECT count() FROM loot").text == "0\n"
    # An insert of literals only is evaluated as before: its values land, a bad one is
    # reported as the parse error it is.
    assert _post(target, "INSERT INTO loot VALUES ('plain'), ('it''s (fine)')").status_code == 200
    assert _post(target, "SELECT count() FROM loot").text == "2\n"
    bad = _post(target, "CREATE TABLE IF NOT EXISTS dates (d Date) ENGINE = Memory")
    bad = _post(target, "INSERT INTO dates VALUES ('soon')")
    assert bad.status_code == 500 and "CANNOT_PARSE" in bad.text, bad.text


def test_explain_that_only_parses_is_answered_and_calls_nothing(target: Target) -> None:
    """The SQL console's guard inspects a statement with EXPLAIN AST before refusing it."""
    url = f"url('http://127.0.0.1:{target.listener.port}/x', 'LineAsString')"
    parsed = _post(target, f"EXPLAIN AST SELECT * FROM {url}")
    assert parsed.status_code == 200 and "Function url" in parsed.text
    tree = _post(target, f"EXPLAIN QUERY TREE run_passes = 0 SELECT * FROM {url}")
    assert tree.status_code == 200, tree.text
    _refused(_post(target, f"EXPLAIN PLAN SELECT * FROM {url}"), 403, 497, "url reaches")
    _refused(_post(target, f"EXPLAIN SYNTAX SELECT * FROM {url}"), 403, 497, "url reaches")
    # EXPLAIN AST prints an INTO OUTFILE clause without writing; QUERY TREE would write.
    explained = _post(target, f"EXPLAIN AST SELECT 1 INTO OUTFILE '{target.outside}/ast'")
    assert explained.status_code == 200 and "/ast" in explained.text
    tree_out = f"EXPLAIN QUERY TREE run_passes = 0 SELECT 1 INTO OUTFILE '{target.outside}/qt'"
    _refused(_post(target, tree_out), 403, 497, "INTO OUTFILE is not allowed")
    assert target.listener.connections == 0
    assert list(target.outside.iterdir()) == []


# --- browsers: other sites, DNS rebinding ---------------------------------------------------


def test_cross_site_text_plain_post_is_refused_before_credentials(target: Target) -> None:
    """What a page on another site can send without a CORS preflight."""
    headers = {"Origin": "https://evil.example", "Content-Type": "text/plain"}
    response = httpx.post(
        target.base, content="CREATE TABLE pwned (a UInt8) ENGINE = Memory", headers=headers
    )
    _refused(response, 403, 497, "Cross-origin request from 'https://evil.example' refused")
    # Even holding the password (e.g. typed into a malicious page), a browser is refused.
    response = httpx.post(target.base, content="SELECT 1", headers=headers, auth=target.auth)
    _refused(response, 403, 497, "Cross-origin request")
    no_origin = {"Sec-Fetch-Site": "cross-site"}
    response = httpx.post(target.base, content="SELECT 1", headers=no_origin, auth=target.auth)
    _refused(response, 403, 497, "Cross-site browser request refused")
    assert _post(target, "EXISTS TABLE pwned").text == "0\n"


def test_dns_rebinding_host_is_refused(target: Target) -> None:
    rebound = {"Host": f"attacker.example:{target.server.port}"}
    response = httpx.post(target.base, content="SELECT 1", headers=rebound, auth=target.auth)
    _refused(response, 403, 497, "Host 'attacker.example' is not a name of this server")
    for name in ("localhost", "127.0.0.1"):
        named = {"Host": f"{name}:{target.server.port}"}
        ok = httpx.post(target.base, content="SELECT 3", headers=named, auth=target.auth)
        assert (ok.status_code, ok.text) == (200, "3\n")


# --- afterwards ---------------------------------------------------------------------------


def test_server_is_healthy_and_legitimate_clients_work_after_the_attacks(target: Target) -> None:
    assert httpx.get(f"{target.base}/ping").text == "Ok.\n"
    client = clickhouse_connect.get_client(dsn=target.server.url)  # password in the dsn
    client.command("CREATE TABLE after (id UInt64, page String) ENGINE = MergeTree ORDER BY id")
    client.insert("after", [[1, "/a"], [2, "/b"]], column_names=["id", "page"])
    assert client.query("SELECT sum(id), max(page) FROM after").result_rows == [(3, "/b")]
    # local table functions stay available
    assert client.command("SELECT sum(number) FROM numbers(5)") == 10
    assert target.server.running
    assert target.listener.connections == 0
