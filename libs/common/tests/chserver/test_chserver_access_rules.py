"""The access rules of the embedded server as pure functions: credentials, the Host/Origin
guard and the statement policy's reading of the engine's normalised text and AST."""

from __future__ import annotations

import base64
import os
import stat
import threading
from pathlib import Path

import pytest

from exos_common.chserver import request_guard, statement_policy
from exos_common.chserver.credentials import (
    Credentials,
    load_or_create_password,
    request_credentials,
)
from exos_common.chserver.engine import statement_text

# --- credentials -----------------------------------------------------------------------------


def test_password_is_created_once_with_owner_only_mode(tmp_path: Path) -> None:
    path = tmp_path / "db" / "password"
    first = load_or_create_password(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 32 and path.read_text() == first + "\n"
    assert load_or_create_password(path) == first


def test_concurrent_first_starts_agree_on_one_password(tmp_path: Path) -> None:
    """A reader racing the first writer once saw an empty file ("password is empty")."""
    for attempt in range(20):
        path = tmp_path / f"password-{attempt}"
        seen: list[str] = []
        errors: list[BaseException] = []
        start = threading.Barrier(8)

        def first_start(
            path: Path = path,
            seen: list[str] = seen,
            errors: list[BaseException] = errors,
            start: threading.Barrier = start,
        ) -> None:
            start.wait()
            try:
                seen.append(load_or_create_password(path))
            except BaseException as ex:  # collected: a thread's exception fails the test
                errors.append(ex)

        threads = [threading.Thread(target=first_start) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(seen) == 8 and set(seen) == {path.read_text().strip()}
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"password-{attempt}" for attempt in range(20)
    )  # no temporary files left behind


def test_an_empty_password_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "password"
    path.write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        load_or_create_password(path)


def test_a_given_password_file_is_read_as_is(tmp_path: Path) -> None:
    path = tmp_path / "password"
    path.write_text("s3cret with spaces  \n")
    os.chmod(path, 0o644)
    assert load_or_create_password(path) == "s3cret with spaces"


def test_credentials_admit_only_the_exact_user_and_password() -> None:
    creds = Credentials("default", "pw")
    assert creds.admits("default", "pw")
    assert creds.admits(None, "pw")  # no user named: ClickHouse's `default`
    assert not creds.admits("default", "pw ")
    assert not creds.admits("default", "")
    assert not creds.admits("default", None)
    assert not creds.admits("admin", "pw")


def test_request_credentials_in_clickhouse_order() -> None:
    basic = "Basic " + base64.b64encode(b"alice:p:w").decode()
    headers = {"x-clickhouse-user": "bob", "x-clickhouse-key": "k", "authorization": basic}
    params = {"user": "carol", "password": "q"}
    assert request_credentials(headers, params) == ("bob", "k")
    assert request_credentials({"authorization": basic}, params) == ("alice", "p:w")
    assert request_credentials({}, params) == ("carol", "q")
    assert request_credentials({"authorization": "Basic !!"}, params) == (None, None)
    assert request_credentials({}, {}) == (None, None)


# --- Host and Origin --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1:8123", "127.0.0.1"),
        ("LOCALHOST", "localhost"),
        ("[::1]:8123", "[::1]"),
        ("[::1]", "[::1]"),
        ("", ""),
    ],
)
def test_host_name_drops_the_port(host: str, expected: str) -> None:
    assert request_guard.host_name(host) == expected


def test_allowed_host_names() -> None:
    assert request_guard.allowed_host_names("0.0.0.0") == {"localhost", "127.0.0.1", "[::1]"}
    assert "10.0.0.5" in request_guard.allowed_host_names("10.0.0.5")
    assert "[fd00::1]" in request_guard.allowed_host_names("fd00::1")
    assert "ch.internal" in request_guard.allowed_host_names("127.0.0.1", [" CH.internal "])


def test_guard_refusals() -> None:
    hosts = request_guard.allowed_host_names("127.0.0.1")
    origins = request_guard.allowed_origins(["http://grafana.local:3000"])
    ok = {"host": "127.0.0.1:8123"}
    assert request_guard.refusal(ok, hosts, origins) is None
    assert request_guard.refusal({}, hosts, origins) is not None  # no Host at all
    assert "not a name" in str(request_guard.refusal({"host": "evil.example:8123"}, hosts, origins))
    for origin in ("https://evil.example", "null", "http://127.0.0.1:9999"):
        refused = request_guard.refusal({**ok, "origin": origin}, hosts, origins)
        assert refused is not None and "Cross-origin" in refused
    allowed = {**ok, "origin": "http://Grafana.local:3000", "sec-fetch-site": "cross-site"}
    assert request_guard.refusal(allowed, hosts, origins) is None
    for site in ("cross-site", "same-site"):
        assert request_guard.refusal({**ok, "sec-fetch-site": site}, hosts, origins)
    assert request_guard.refusal({**ok, "sec-fetch-site": "none"}, hosts, origins) is None


# --- statement policy -----------------------------------------------------------------------


def test_denied_names_keep_local_ones() -> None:
    denied = statement_policy.denied_names(
        ["file", "url", "numbers", "Python", "newFancyLake"],
        ["MergeTree", "ReplacingMergeTree", "Memory", "URL", "S3", "Kafka"],
    )
    assert denied == {"file", "url", "python", "newfancylake", "s3", "kafka"}


@pytest.mark.parametrize(
    ("normalized", "reason"),
    [
        ("SYSTEM SHUTDOWN", "SYSTEM statements"),
        ("BACKUP TABLE t TO File('x')", "BACKUP statements"),
        ("SELECT 1 INTO OUTFILE '/tmp/x'", "INTO OUTFILE"),
        ("INSERT INTO t FROM INFILE '/etc/passwd' FORMAT CSV", "FROM INFILE"),
        ("SELECT 1 SETTINGS input_format_values_interpret_expressions = 1", "Setting input_"),
        ("SELECT 1 SETTINGS format_schema = '/etc/x:M'", "Setting format_schema"),
    ],
)
def test_normalized_rules_refuse(normalized: str, reason: str) -> None:
    with pytest.raises(statement_policy.StatementRefused, match=reason):
        statement_policy.check_normalized(normalized)


@pytest.mark.parametrize(
    "normalized",
    [
        "SELECT 'INTO OUTFILE is only text here'",
        "SELECT * FROM otel_traces WHERE Body = 'SYSTEM SHUTDOWN'",
        "INSERT INTO t FORMAT Native",
        "SELECT 1 SETTINGS max_threads = 2",
    ],
)
def test_normalized_rules_allow(normalized: str) -> None:
    statement_policy.check_normalized(normalized)


def test_explain_ast_may_show_an_outfile_clause() -> None:
    statement_policy.check_normalized("EXPLAIN AST SELECT 1 INTO OUTFILE '/tmp/x'")
    with pytest.raises(statement_policy.StatementRefused, match="INTO OUTFILE"):
        statement_policy.check_normalized(
            "EXPLAIN QUERY TREE run_passes = 0 SELECT 1 INTO OUTFILE '/tmp/x'"
        )


def test_ast_rules() -> None:
    denied = frozenset({"file", "url"})
    ast = "SelectWithUnionQuery (children 1)\n  Function FILE (children 1)\n"
    with pytest.raises(statement_policy.StatementRefused, match="FILE reaches files"):
        statement_policy.check_ast(ast, denied)
    dictionary = " Dictionary definition (children 4)\n  FunctionWithKeyValueArguments  http\n"
    with pytest.raises(statement_policy.StatementRefused, match="Dictionary source http"):
        statement_policy.check_ast(dictionary, denied)
    statement_policy.check_ast("  Function count (children 1)\n  Literal 'file'\n", denied)


def test_forbidden_settings() -> None:
    assert statement_policy.forbidden_setting({"max_threads": "1"}) is None
    assert (
        statement_policy.forbidden_setting({"input_format_values_interpret_expressions": "1"})
        == "input_format_values_interpret_expressions"
    )
    assert statement_policy.forbidden_setting(["format_template_row"]) == "format_template_row"
    pinned = statement_policy.pinned_settings({"input_format_values_interpret_expressions": "1"})
    assert pinned["input_format_values_interpret_expressions"] == "0"


def test_statement_text_cuts_insert_data() -> None:
    assert statement_text(b"INSERT INTO t (a) FORMAT CSV\n1\n2\n") == "INSERT INTO t (a) FORMAT CSV"
    binary = b"INSERT INTO t FORMAT RowBinary\n\xff\xfe\x00"
    assert statement_text(binary) == "INSERT INTO t FORMAT RowBinary"
    big_values = b"INSERT INTO t VALUES " + b"('x')," * 100_000
    assert statement_text(big_values) == "INSERT INTO t VALUES"
    assert statement_text("SELECT 1; SELECT 2") == "SELECT 1; SELECT 2"


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        (b"INSERT INTO t VALUES ('a'), ('b')", True),
        (b"INSERT INTO db.t (a, b) SETTINGS x = 1 VALUES (1, 'f(x)'), (2, 'it''s')", True),
        (b"INSERT INTO t VALUES (1, [2, 3], -4, 'x' || 'y')", True),
        (b"INSERT INTO t VALUES (file('/etc/passwd'))", False),
        (b"INSERT INTO t VALUES (`file` /* c */ ('/etc/passwd'))", False),
        (b"INSERT INTO t VALUES (\"file\"\n('/etc/passwd'))", False),
        (b"INSERT INTO t VALUES ((SELECT 1))", False),
        (b"INSERT INTO t SELECT * FROM format(Values, 'a String', '(1)')", False),
        (b"INSERT INTO t FORMAT Values (1)", False),
        (b"INSERT INTO FUNCTION file('x') VALUES (1)", False),
        (b"INSERT INTO t (a) SELECT 1", False),
        (b"SELECT 1", False),
    ],
)
def test_literal_values_insert(text: bytes, literal: bool) -> None:
    assert statement_policy.literal_values_insert(text) is literal


def test_parse_only_explains() -> None:
    assert statement_policy.parse_only("EXPLAIN AST SELECT 1")
    assert statement_policy.parse_only("EXPLAIN QUERY TREE run_passes = 0 SELECT 1")
    assert not statement_policy.parse_only("EXPLAIN QUERY TREE SELECT 1")
    assert not statement_policy.parse_only("EXPLAIN PLAN SELECT 1")
    assert not statement_policy.parse_only("EXPLAIN SYNTAX SELECT 1")
    assert not statement_policy.parse_only("SELECT 'EXPLAIN AST'")
