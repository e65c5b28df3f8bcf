"""An unmodified clickhouse-connect HTTP client against the embedded server subprocess."""

from __future__ import annotations

import gzip
import json
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime

import clickhouse_connect
import httpx
import pytest
import zstandard
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError
from clickhouse_connect.driver.summary import QuerySummary

from exos_common.testing.clickhouse import ClickHouseServer

pytestmark = pytest.mark.clickhouse_server

EVENTS_DDL = """
CREATE TABLE events (
    id UInt64,
    service LowCardinality(String),
    attributes Map(LowCardinality(String), String),
    ts DateTime64(9)
) ENGINE = MergeTree ORDER BY id
"""


@pytest.fixture(scope="module")
def database(clickhouse_server: ClickHouseServer) -> Iterator[str]:
    """A database per module: the session server is shared with other test modules."""
    name = f"chserver_{uuid.uuid4().hex[:8]}"
    admin = clickhouse_connect.get_client(dsn=clickhouse_server.url)
    admin.command(f"CREATE DATABASE {name}")
    yield name
    admin.command(f"DROP DATABASE {name}")
    admin.close()


@pytest.fixture
def client(clickhouse_server: ClickHouseServer, database: str) -> Iterator[Client]:
    client = clickhouse_connect.get_client(dsn=clickhouse_server.url, database=database)
    yield client
    client.close()


@pytest.fixture
def events(client: Client) -> Iterator[str]:
    client.command("DROP TABLE IF EXISTS events")
    client.command(EVENTS_DDL)
    yield "events"
    client.command("DROP TABLE events")


ROWS = [
    [
        1,
        "web",
        {"http.method": "GET", "http.route": "/cart"},
        datetime(2024, 5, 1, 12, 0, 0, 123456),
    ],
    [2, "api", {}, datetime(2024, 5, 1, 12, 0, 1)],
]


@pytest.mark.parametrize(
    "compress", [True, False, "zstd", "gzip"], ids=["lz4", "plain", "zstd", "gzip"]
)
def test_insert_native_then_query_back(
    clickhouse_server: ClickHouseServer, database: str, events: str, compress: bool | str
) -> None:
    client = clickhouse_connect.get_client(
        dsn=clickhouse_server.url, database=database, compress=compress
    )
    summary = client.insert(events, ROWS, column_names=["id", "service", "attributes", "ts"])
    assert summary.written_rows == 2
    result = client.query("SELECT id, service, attributes, ts FROM events ORDER BY id")
    assert [list(row) for row in result.result_rows] == ROWS
    assert client.query("SELECT toTypeName(service) FROM events LIMIT 1").result_rows == [
        ("LowCardinality(String)",)
    ]
    client.close()


def test_insert_spanning_several_native_blocks(client: Client) -> None:
    # clickhouse-connect sends "INSERT ... FORMAT Native\n" + blocks in the body; blocks this
    # big arrive over many HTTP chunks and must be streamed, not parsed as one query.
    client.command("DROP TABLE IF EXISTS wide")
    client.command("CREATE TABLE wide (id UInt64) ENGINE = MergeTree ORDER BY id")
    rows = 140_000
    client.insert("wide", [[i] for i in range(rows)], column_names=["id"])
    assert client.query("SELECT count(), sum(id) FROM wide").result_rows == [
        (rows, rows * (rows - 1) // 2)
    ]
    client.command("DROP TABLE wide")


def _row_binary(rows: list[tuple[int, str, int]]) -> bytes:
    """(UInt64 id, String service, DateTime64(9) as Int64 nanoseconds) rows in RowBinary."""
    out = bytearray()
    for ident, service, nanos in rows:
        encoded = service.encode()
        out += struct.pack("<Q", ident) + bytes([len(encoded)]) + encoded + struct.pack("<q", nanos)
    return bytes(out)


@pytest.mark.parametrize("compression", [None, "gzip", "lz4"])
def test_raw_insert_row_binary_keeps_nanoseconds(
    client: Client, events: str, compression: str | None
) -> None:
    # Uncompressed, clickhouse-connect puts "INSERT ... FORMAT RowBinary\n" + data in the body;
    # compressed, the statement moves to the `query` URL parameter.
    data = _row_binary([(7, "web", 1_714_564_800_123_456_789), (8, "api", 0)])
    if compression == "gzip":
        data = gzip.compress(data)
    elif compression == "lz4":
        import lz4.frame

        data = lz4.frame.compress(data)
    client.raw_insert(
        events, ["id", "service", "ts"], data, fmt="RowBinary", compression=compression
    )
    assert client.query("SELECT id, service, toString(ts) FROM events ORDER BY id").result_rows == [
        (7, "web", "2024-05-01 12:00:00.123456789"),
        (8, "api", "1970-01-01 00:00:00.000000000"),
    ]


def test_chunked_insert_body(
    clickhouse_server: ClickHouseServer, database: str, events: str, client: Client
) -> None:
    def body() -> Iterator[bytes]:
        for ident in range(1, 101):
            yield json.dumps({"id": ident, "service": f"s{ident % 3}"}).encode() + b"\n"

    params = {"query": "INSERT INTO events (id, service) FORMAT JSONEachRow", "database": database}
    response = httpx.post(clickhouse_server.url, params=params, content=body())
    assert response.status_code == 200, response.text
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert json.loads(response.headers["x-clickhouse-summary"])["written_rows"] == "100"
    assert client.query("SELECT count(), sum(id), uniqExact(service) FROM events").result_rows == [
        (100, 5050, 3)
    ]


def test_query_parameters_in_url_and_in_multipart_form(client: Client) -> None:
    value = 'it\'s a "quoted" \\ value'
    assert client.query("SELECT {v:String}", parameters={"v": value}).result_rows == [(value,)]
    # Bind values over 4 KiB travel as multipart/form-data fields instead of URL parameters.
    many = list(range(2000))
    result = client.query(
        "SELECT length({ids:Array(UInt32)}), {tag:String}", parameters={"ids": many, "tag": "x"}
    )
    assert result.result_rows == [(2000, "x")]


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("TabSeparated", b"0\tzero\n1\tone\n"),
        ("CSV", b'0,"zero"\n1,"one"\n'),
        ("JSONEachRow", b'{"n":0,"s":"zero"}\n{"n":1,"s":"one"}\n'),
        (
            "RowBinaryWithNamesAndTypes",
            b"\x02\x01n\x01s\x06UInt64\x06String"
            + b"\x00" * 8
            + b"\x04zero"
            + b"\x01"
            + b"\x00" * 7
            + b"\x03one",
        ),
    ],
)
def test_output_formats(client: Client, fmt: str, expected: bytes) -> None:
    sql = "SELECT number AS n, ['zero', 'one'][number + 1] AS s FROM numbers(2)"
    assert client.raw_query(sql, fmt=fmt) == expected


def test_json_format_and_default_format_header(clickhouse_server: ClickHouseServer) -> None:
    response = httpx.get(
        clickhouse_server.url, params={"query": "SELECT 1 AS one", "default_format": "JSON"}
    )
    assert response.headers["x-clickhouse-format"] == "JSON"
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["data"] == [{"one": 1}]
    assert response.headers["x-clickhouse-timezone"]


def test_database_parameter(clickhouse_server: ClickHouseServer, database: str) -> None:
    response = httpx.get(
        clickhouse_server.url, params={"query": "SELECT currentDatabase()", "database": database}
    )
    assert response.text == f"{database}\n"
    client = clickhouse_connect.get_client(dsn=clickhouse_server.url, database=database)
    assert client.command("SELECT currentDatabase()") == database
    client.close()


def test_settings_are_forwarded(client: Client) -> None:
    assert (
        client.command("SELECT getSetting('max_block_size')", settings={"max_block_size": 1234})
        == 1234
    )
    with pytest.raises(DatabaseError) as info:
        client.query(
            "SELECT number FROM numbers(5)",
            settings={"max_result_rows": 2, "result_overflow_mode": "throw"},
        )
    assert info.value.code == 396  # TOO_MANY_ROWS_OR_BYTES
    assert "Limit for result exceeded" in str(info.value)
    # Settings are per request: the next query on the same client is not limited.
    assert len(client.query("SELECT number FROM numbers(5)").result_rows) == 5


def test_errors_carry_clickhouse_code_and_message(client: Client) -> None:
    with pytest.raises(DatabaseError) as unknown:
        client.query("SELECT * FROM no_such_table")
    assert unknown.value.code == 60
    assert "Code: 60. DB::Exception:" in str(unknown.value)
    assert "(UNKNOWN_TABLE)" in str(unknown.value)
    with pytest.raises(DatabaseError) as syntax:
        client.command("SELEC 1")
    assert syntax.value.code == 62


def test_failed_insert_writes_nothing(client: Client, events: str) -> None:
    with pytest.raises(DatabaseError) as info:
        client.raw_insert(events, ["id", "service"], "1,ok\nnot-a-number,bad\n", fmt="CSV")
    assert info.value.code == 27  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
    assert client.command("SELECT count() FROM events") == 0


def test_command_results_and_summaries(client: Client, events: str) -> None:
    assert client.command("SELECT 1 WHERE 0") == ""  # empty result set, not a summary
    summary = client.command("INSERT INTO events (id, service) VALUES (1, 'a'), (2, 'b')")
    assert isinstance(summary, QuerySummary)  # a DDL/insert acknowledgement, not a result
    assert summary.written_rows == 2
    assert client.query("SELECT id FROM events LIMIT 0").column_names == ("id",)


def test_insert_deduplication_token_reaches_the_engine(client: Client) -> None:
    client.command("DROP TABLE IF EXISTS dedup")
    client.command(
        "CREATE TABLE dedup (id UInt64) ENGINE = MergeTree ORDER BY id "
        "SETTINGS non_replicated_deduplication_window = 100"
    )
    batch = [[1], [2], [3]]
    client.insert("dedup", batch, settings={"insert_deduplication_token": "events:0:0-2"})
    client.insert("dedup", batch, settings={"insert_deduplication_token": "events:0:0-2"})
    assert client.command("SELECT count() FROM dedup") == 3
    client.insert("dedup", batch, settings={"insert_deduplication_token": "events:0:3-5"})
    assert client.command("SELECT count() FROM dedup") == 6


def test_response_compression_follows_enable_http_compression(
    clickhouse_server: ClickHouseServer,
) -> None:
    # chDB's enable_http_compression defaults to 1 (system.settings says so, and
    # clickhouse-connect then only sends Accept-Encoding): compressed unless turned off.
    params = {"query": "SELECT number FROM numbers(3)"}
    accept = {"Accept-Encoding": "zstd"}
    response = httpx.get(clickhouse_server.url, params=params, headers=accept)
    assert response.headers["content-encoding"] == "zstd"
    assert response.text == "0\n1\n2\n"  # httpx decodes zstd (zstandard is installed)
    params["enable_http_compression"] = "0"
    plain = httpx.get(clickhouse_server.url, params=params, headers=accept)
    assert "content-encoding" not in plain.headers
    assert plain.text == "0\n1\n2\n"


def test_unknown_content_encoding_is_refused(clickhouse_server: ClickHouseServer) -> None:
    response = httpx.post(
        clickhouse_server.url, content=b"SELECT 1", headers={"Content-Encoding": "br"}
    )
    assert response.status_code == 415
    assert response.headers["x-clickhouse-exception-code"] == "89"
    assert "UNKNOWN_COMPRESSION_METHOD" in response.text
    zstd_body = zstandard.ZstdCompressor().compress(b"SELECT 40 + 2")
    ok = httpx.post(clickhouse_server.url, content=zstd_body, headers={"Content-Encoding": "zstd"})
    assert ok.text == "42\n"


def test_corrupt_compressed_insert_commits_nothing(
    clickhouse_server: ClickHouseServer, database: str, events: str, client: Client
) -> None:
    params = {"query": "INSERT INTO events (id, service) FORMAT CSV", "database": database}
    headers = {"Content-Encoding": "lz4"}
    response = httpx.post(clickhouse_server.url, params=params, content=b"1,a\n", headers=headers)
    assert response.status_code == 400
    assert response.headers["x-clickhouse-exception-code"] == "271"  # CANNOT_DECOMPRESS
    assert client.command("SELECT count() FROM events") == 0


def test_concurrent_clients_run_in_parallel(
    clickhouse_server: ClickHouseServer, database: str
) -> None:
    slow_sql = "SELECT sum(sleepEachRow(0.001)) FROM numbers(1000) SETTINGS max_block_size = 100"
    results: dict[str, int] = {}

    def ask(client: Client, sql: str) -> int:
        return int(client.query(sql).result_rows[0][0])

    def slow() -> None:
        results["slow"] = ask(clickhouse_connect.get_client(dsn=clickhouse_server.url), slow_sql)

    def quick(worker: int) -> None:
        own = clickhouse_connect.get_client(dsn=clickhouse_server.url, database=database)
        results[f"quick{worker}"] = sum(ask(own, f"SELECT {worker} * 10 + {i}") for i in range(5))

    slow_thread = threading.Thread(target=slow)
    slow_thread.start()
    time.sleep(0.2)  # the slow query is running now
    workers = [threading.Thread(target=quick, args=(w,)) for w in range(4)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    quick_done = all(key in results for key in ("quick0", "quick1", "quick2", "quick3"))
    slow_still_running = slow_thread.is_alive()
    slow_thread.join()
    assert quick_done
    assert [results[f"quick{worker}"] for worker in range(4)] == [10, 60, 110, 160]
    assert slow_still_running, "quick queries waited for the slow one: requests are serialised"
    assert results["slow"] == 0


def test_service_endpoints(clickhouse_server: ClickHouseServer) -> None:
    assert httpx.get(f"{clickhouse_server.url}/ping").text == "Ok.\n"
    assert httpx.get(f"{clickhouse_server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{clickhouse_server.url}/readyz").json() == {
        "status": "ready",
        "checks": {"clickhouse": "ok"},
    }
    metrics = httpx.get(f"{clickhouse_server.url}/metrics").text
    assert 'exos_clickhouse_server_requests_total{kind="query",outcome="ok"}' in metrics
    assert "exos_clickhouse_server_request_duration_seconds_bucket" in metrics
