"""The ClickHouse HTTP interface rules, as pure functions (no engine, no server)."""

from __future__ import annotations

import gzip
import json
import zlib

import lz4.frame
import pytest
import zstandard

from exos_common.chserver import compression as c
from exos_common.chserver import protocol as p


def test_parse_params_splits_query_binds_transport_and_settings() -> None:
    spec = p.parse_params(
        [
            ("query", "SELECT {x:String}"),
            ("param_x", "a b"),
            ("database", "analytics"),
            ("default_format", "JSONEachRow"),
            ("query_id", "q-1"),
            ("session_id", "s-1"),
            ("wait_end_of_query", "1"),
            ("enable_http_compression", "1"),
            ("client_protocol_version", "54405"),
            ("max_result_rows", "10"),
            ("insert_deduplication_token", "events:0:5-9"),
        ]
    )
    assert spec.query == "SELECT {x:String}"
    assert spec.params == {"x": "a b"}
    assert spec.database == "analytics"
    assert spec.default_format == "JSONEachRow"
    assert spec.query_id == "q-1"
    assert spec.compress_response is True
    assert spec.settings == {"max_result_rows": "10", "insert_deduplication_token": "events:0:5-9"}


def test_parse_params_defaults() -> None:
    spec = p.parse_params([])
    assert (spec.query, spec.database, spec.default_format, spec.compress_response) == (
        None,
        None,
        "TabSeparated",
        None,
    )
    assert p.parse_params([("enable_http_compression", "0")]).compress_response is False


@pytest.mark.parametrize("name", ["compress", "decompress"])
def test_native_block_compression_is_refused(name: str) -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.parse_params([(name, "1")])
    assert info.value.code == p.NOT_IMPLEMENTED
    assert p.parse_params([(name, "0")]).settings == {}


def test_setting_names_must_be_identifiers() -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.parse_params([("max_threads; DROP TABLE t", "1")])
    assert info.value.code == p.UNKNOWN_SETTING


def test_set_statement_quotes_values() -> None:
    assert p.set_statement({}) is None
    assert p.set_statement({"a": "1", "b": "it's \\"}) == "SET a = '1', b = 'it\\'s \\\\'"


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("INSERT INTO t (a, b) FORMAT Native", ("INSERT INTO t (a, b)", "Native")),
        ("  -- c\n insert into db.t FORMAT RowBinary\n", ("insert into db.t", "RowBinary")),
        (
            "INSERT INTO t SETTINGS insert_deduplication_token='x' FORMAT CSV",
            ("INSERT INTO t SETTINGS insert_deduplication_token='x'", "CSV"),
        ),
        ("INSERT INTO t VALUES", None),
        ("INSERT INTO t SELECT 1", None),
        ("SELECT 1 FORMAT Native", None),
    ],
)
def test_split_insert(sql: str, expected: tuple[str, str] | None) -> None:
    assert p.split_insert(sql) == expected


@pytest.mark.parametrize(
    ("sql", "fmt"),
    [
        ("SELECT 1", "TabSeparated"),
        ("SELECT 1\n FORMAT Native", "Native"),
        ("SELECT 1 FORMAT JSON SETTINGS max_threads = 1", "JSON"),
        ("SELECT 'FORMAT CSV' AS x", "TabSeparated"),
        ("SELECT 1 format JSONEachRow;", "JSONEachRow"),
    ],
)
def test_output_format(sql: str, fmt: str) -> None:
    assert p.output_format(sql, "TabSeparated") == fmt


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1 WHERE 0", True),
        ("/* probe */ WITH 1 AS x SELECT x", True),
        ("DESCRIBE TABLE t", True),
        ("(SELECT 1)", True),
        ("CREATE TABLE t (a UInt8) ENGINE = Memory", False),
        ("DROP TABLE IF EXISTS t", False),
        ("INSERT INTO t VALUES (1)", False),
    ],
)
def test_produces_result(sql: str, expected: bool) -> None:
    assert p.produces_result(sql) is expected


@pytest.mark.parametrize(
    ("fmt", "media"),
    [
        ("Native", "application/octet-stream"),
        ("RowBinaryWithNamesAndTypes", "application/octet-stream"),
        ("JSON", "application/json; charset=UTF-8"),
        ("JSONEachRow", "application/x-ndjson; charset=UTF-8"),
        ("TabSeparatedWithNames", "text/tab-separated-values; charset=UTF-8"),
        ("CSV", "text/csv; charset=UTF-8"),
    ],
)
def test_content_type(fmt: str, media: str) -> None:
    assert p.content_type(fmt) == media


def test_summary_header_uses_strings_like_clickhouse() -> None:
    summary = json.loads(p.summary_header(written_rows=3, written_bytes=24, elapsed_s=0.5))
    assert summary["written_rows"] == "3"
    assert summary["written_bytes"] == "24"
    assert summary["elapsed_ns"] == "500000000"


def test_error_code_and_clean_error() -> None:
    engine_text = "Code: 27. DB::Exception: Cannot parse input. (CANNOT_PARSE)"
    message = f"Streaming insert finish failed: {engine_text}"
    assert p.error_code(message) == 27
    assert p.clean_error(message) == engine_text
    assert p.error_code("no code here") == 1000


def test_protocol_error_body_matches_clickhouse_text() -> None:
    error = p.ProtocolError(p.UNKNOWN_COMPRESSION_METHOD, "Unsupported Content-Encoding 'br'")
    assert error.body() == (
        "Code: 89. DB::Exception: Unsupported Content-Encoding 'br'. (UNKNOWN_COMPRESSION_METHOD)"
    )


def _lz4_blocks(*blocks: bytes) -> bytes:
    # clickhouse-connect's Lz4Compressor: one complete frame per insert block.
    return b"".join(lz4.frame.compress(block) for block in blocks)


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize(
    ("encoding", "payload"),
    [
        ("lz4", _lz4_blocks(b"first block|", b"second block|", b"third")),
        (
            "zstd",
            b"".join(
                zstandard.ZstdCompressor().compress(b)
                for b in (b"first block|", b"second block|", b"third")
            ),
        ),
        ("gzip", gzip.compress(b"first block|second block|") + gzip.compress(b"third")),
        ("deflate", zlib.compress(b"first block|second block|third")),
    ],
)
@pytest.mark.parametrize("chunk_size", [1, 7, 1 << 20])
def test_body_decoder_handles_concatenated_frames_in_any_chunking(
    encoding: str, payload: bytes, chunk_size: int
) -> None:
    decoder = c.body_decoder(encoding)
    assert decoder is not None
    decoded = b"".join(decoder.decode(chunk) for chunk in _chunks(payload, chunk_size))
    decoder.finish()
    assert decoded == b"first block|second block|third"


def test_body_decoder_identity_and_refusals() -> None:
    assert c.body_decoder(None) is None
    assert c.body_decoder("identity") is None
    with pytest.raises(p.ProtocolError) as refused:
        c.body_decoder("br")
    assert (refused.value.code, refused.value.status) == (p.UNKNOWN_COMPRESSION_METHOD, 415)
    decoder = c.body_decoder("lz4")
    assert decoder is not None
    with pytest.raises(p.ProtocolError) as corrupt:
        decoder.decode(b"definitely not lz4")
    assert corrupt.value.code == p.CANNOT_DECOMPRESS


@pytest.mark.parametrize("encoding", ["lz4", "zstd", "gzip"])
def test_body_decoder_refuses_a_truncated_body(encoding: str) -> None:
    whole = {
        "lz4": lz4.frame.compress,
        "zstd": zstandard.ZstdCompressor().compress,
        "gzip": gzip.compress,
    }[encoding](b"0123456789" * 100)
    decoder = c.body_decoder(encoding)
    assert decoder is not None
    decoder.decode(whole[:-5])
    with pytest.raises(p.ProtocolError) as truncated:
        decoder.finish()
    assert truncated.value.code == p.CANNOT_DECOMPRESS


@pytest.mark.parametrize(
    ("accept", "enabled", "expected"),
    [
        ("lz4,zstd,gzip,deflate", True, "lz4"),
        ("br, gzip", True, "gzip"),
        ("lz4,zstd", False, None),
        (None, True, None),
        ("lz4;q=0, zstd", True, "zstd"),
    ],
)
def test_response_encoding(accept: str | None, enabled: bool, expected: str | None) -> None:
    assert c.response_encoding(accept, enabled) == expected


@pytest.mark.parametrize("encoding", c.RESPONSE_ENCODINGS)
def test_compress_body_round_trips(encoding: str) -> None:
    data = b"0123456789" * 1000
    compressed = c.compress_body(data, encoding)
    decoders = {
        "lz4": lz4.frame.decompress,
        "zstd": zstandard.ZstdDecompressor().decompress,
        "gzip": gzip.decompress,
        "deflate": zlib.decompress,
    }
    assert decoders[encoding](compressed) == data


def test_parse_form_reads_text_fields_and_refuses_files() -> None:
    boundary = "b0undary"
    disposition = "Content-Disposition: form-data; name="
    body = (
        f'--{boundary}\r\n{disposition}"query"\r\n\r\nSELECT {{x:String}}\r\n'
        f'--{boundary}\r\n{disposition}"param_x"\r\n\r\nh\u00e9\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    fields = p.parse_form(f"multipart/form-data; boundary={boundary}", body)
    assert fields == [("query", "SELECT {x:String}"), ("param_x", "h\u00e9")]
    with_file = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="ext"; filename="ext"\r\n\r\n1\n\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    with pytest.raises(p.ProtocolError) as info:
        p.parse_form(f"multipart/form-data; boundary={boundary}", with_file)
    assert info.value.code == p.NOT_IMPLEMENTED


def test_quote_identifier() -> None:
    assert p.quote_identifier("db`x") == "`db\\`x`"


@pytest.mark.parametrize(
    ("head", "at_end", "expected"),
    [
        (
            b"INSERT INTO t (a, b) FORMAT Native\n\x00\x01",
            False,
            ("INSERT INTO t (a, b)", "Native", 35),
        ),
        (b"INSERT INTO t FORMAT CSV \r\n1,2\n", True, ("INSERT INTO t", "CSV", 27)),
        (
            b"/* c */ insert into db.t FORMAT RowBinary\n",
            True,
            ("insert into db.t", "RowBinary", 42),
        ),
        (b"INSERT INTO t FORMAT Nat", False, p.NEED_MORE),  # the name may continue
        (b"INSERT INTO t FORMAT Native", True, ("INSERT INTO t", "Native", 27)),
        (b"INS", False, p.NEED_MORE),
        (b"INSERT INTO t (a", False, p.NEED_MORE),
        (b"INSERT INTO t (a", True, None),
        (b"SELECT 1 FORMAT Native\n", False, None),
        (b"INSERT INTO t VALUES ('a FORMAT x')\n", False, None),
        (b"INSERT INTO t VALUES (1)", True, None),
        (b"INSERT INTO t SELECT * FROM s FORMAT CSV\n", False, None),
    ],
)
def test_split_inline_insert(head: bytes, at_end: bool, expected: object) -> None:
    assert p.split_inline_insert(head, at_end) == expected


def test_split_inline_insert_gives_up_after_max_query_size() -> None:
    head = b"INSERT INTO t " + b" " * p.MAX_INSERT_HEAD
    assert p.split_inline_insert(head, False) is None
