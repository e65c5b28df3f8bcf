"""SELECT answers stream block by block from the server process: a large result arrives
whole (plain and compressed), an error after the first block ends the body with the
exception text, and a client that leaves stops its query."""

from __future__ import annotations

import gzip
import time
import uuid

import clickhouse_connect
import httpx
import lz4.frame
import pytest
import zstandard

from exos_common.testing.clickhouse import ClickHouseServer

pytestmark = pytest.mark.clickhouse_server

ROWS = 2_000_000  # ~15 MB of TSV: many engine blocks
SUM = ROWS * (ROWS - 1) // 2


def _numbers(body: bytes) -> tuple[int, int]:
    lines = body.split(b"\n")
    assert lines[-1] == b""
    return len(lines) - 1, sum(int(line) for line in lines[:-1])


def test_a_large_result_arrives_whole_in_many_chunks(clickhouse_server: ClickHouseServer) -> None:
    chunks = 0
    body = bytearray()
    query = f"SELECT number FROM numbers({ROWS})"
    plain = {"Accept-Encoding": "identity"}
    with httpx.stream(
        "POST", clickhouse_server.url, content=query, headers=plain, timeout=120
    ) as response:
        assert response.status_code == 200
        assert response.headers["X-ClickHouse-Format"] == "TabSeparated"
        assert "Content-Encoding" not in response.headers
        for chunk in response.iter_raw():
            chunks += 1
            body += chunk
    assert _numbers(bytes(body)) == (ROWS, SUM)
    assert chunks > 1


@pytest.mark.parametrize(
    ("encoding", "decode"),
    [
        ("lz4", lambda data: lz4.frame.decompress(data)),
        ("zstd", lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data)),
        ("gzip", gzip.decompress),
        ("deflate", lambda data: __import__("zlib").decompress(data)),
    ],
)
def test_a_streamed_result_is_one_compressed_stream(
    clickhouse_server: ClickHouseServer, encoding: str, decode: object
) -> None:
    with httpx.stream(
        "POST",
        clickhouse_server.url,
        params={"enable_http_compression": "1"},
        content=f"SELECT number FROM numbers({ROWS})",
        headers={"Accept-Encoding": encoding},
        timeout=120,
    ) as response:
        assert response.headers["Content-Encoding"] == encoding
        raw = b"".join(response.iter_raw())  # as sent, not decoded by httpx
    assert _numbers(decode(raw)) == (ROWS, SUM)  # type: ignore[operator]


def test_clickhouse_connect_reads_a_large_streamed_result(
    clickhouse_server: ClickHouseServer,
) -> None:
    client = clickhouse_connect.get_client(dsn=clickhouse_server.url, compress=True)
    rows = client.query(f"SELECT number, toString(number) FROM numbers({ROWS})").result_rows
    assert len(rows) == ROWS and rows[-1] == (ROWS - 1, str(ROWS - 1))
    with client.query_row_block_stream(f"SELECT number FROM numbers({ROWS})") as blocks:
        assert sum(row[0] for block in blocks for row in block) == SUM


def test_an_error_after_the_first_block_ends_the_body_with_the_exception(
    clickhouse_server: ClickHouseServer,
) -> None:
    query = (
        "SELECT throwIf(number = 150000, 'broke mid-stream') FROM numbers(1000000) "
        "SETTINGS max_block_size = 1000"
    )
    response = httpx.post(clickhouse_server.url, content=query, timeout=60)
    assert response.status_code == 200  # the status line was sent with the first block
    assert response.text.startswith("0\n")
    assert response.text.rstrip().endswith("(FUNCTION_THROW_IF_VALUE_IS_NON_ZERO)")
    assert "broke mid-stream" in response.text


def test_an_error_before_the_first_block_is_an_error_answer(
    clickhouse_server: ClickHouseServer,
) -> None:
    response = httpx.post(clickhouse_server.url, content="SELECT * FROM no_such_table_here")
    assert response.status_code == 500
    assert response.headers["X-ClickHouse-Exception-Code"] == "60"


def test_a_client_that_leaves_stops_its_query(clickhouse_server: ClickHouseServer) -> None:
    """Materialised in full, this query would run for ~2.8 hours after the client left."""
    marker = f"left_{uuid.uuid4().hex[:8]}"
    query = (
        f"SELECT number, sleepEachRow(0.01), '{marker}' FROM numbers(1000000) "
        "SETTINGS max_block_size = 10"
    )
    running = (
        "SELECT count() FROM system.processes "
        f"WHERE query LIKE '%{marker}%' AND query NOT LIKE '%system.processes%'"
    )
    with httpx.stream("POST", clickhouse_server.url, content=query, timeout=30) as response:
        assert response.status_code == 200
        next(response.iter_raw())  # the first block: the query runs
        assert httpx.post(clickhouse_server.url, content=running).text == "1\n"
    # the connection is closed: the server cancels the query
    deadline = time.monotonic() + 60
    while httpx.post(clickhouse_server.url, content=running).text != "0\n":
        assert time.monotonic() < deadline, "the query still runs a minute after the client left"
        time.sleep(0.2)
    assert httpx.post(clickhouse_server.url, content="SELECT 1").text == "1\n"


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("TabSeparatedWithNames", b"a\n"),
        ("CSVWithNamesAndTypes", b'"a","b"\n"UInt8","String"\n'),
    ],
)
def test_an_empty_result_keeps_its_format_header(
    clickhouse_server: ClickHouseServer, fmt: str, expected: bytes
) -> None:
    query = f"SELECT 1 AS a, 'x' AS b WHERE 0 FORMAT {fmt}"
    if fmt.startswith("TabSeparated"):
        query = f"SELECT 1 AS a WHERE 0 FORMAT {fmt}"
    response = httpx.post(clickhouse_server.url, content=query)
    assert (response.status_code, response.content) == (200, expected)
    empty_json = httpx.post(clickhouse_server.url, content="SELECT 1 AS a LIMIT 0 FORMAT JSON")
    assert empty_json.json()["meta"] == [{"name": "a", "type": "UInt8"}]
    assert empty_json.json()["data"] == []


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        # Formats with a header or a document around the rows: answered whole, so the
        # header appears once (a per-block stream repeated it for each block).
        ("CSVWithNames", b'"n"\n0\n1\n2\n3\n4\n'),
        ("Values", b"(0),(1),(2),(3),(4)"),
        ("TSV", b"0\n1\n2\n3\n4\n"),
        ("JSONEachRow", b"".join(b'{"n":%d}\n' % n for n in range(5))),
    ],
)
def test_a_result_of_many_blocks_is_one_answer_in_every_format(
    clickhouse_server: ClickHouseServer, fmt: str, expected: bytes
) -> None:
    query = f"SELECT number AS n FROM numbers(5) SETTINGS max_block_size = 2 FORMAT {fmt}"
    response = httpx.post(clickhouse_server.url, content=query)
    assert (response.status_code, response.content) == (200, expected)


def test_a_json_document_of_many_blocks_parses(clickhouse_server: ClickHouseServer) -> None:
    query = "SELECT number AS n FROM numbers(5) SETTINGS max_block_size = 2 FORMAT JSONCompact"
    response = httpx.post(clickhouse_server.url, content=query)
    assert response.status_code == 200
    assert response.json()["data"] == [[0], [1], [2], [3], [4]]
