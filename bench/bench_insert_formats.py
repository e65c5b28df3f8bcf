"""Which ClickHouse input format enrich should emit for the writer to insert raw.

Run: `uv run python bench/bench_insert_formats.py [--rows 40000] [--batch-rows 20000]`

The same enriched spans (`bench_writer.enriched_span`) and logs, as `otel_traces` and
`otel_logs` rows, in each candidate format:

- JSONCompactEachRow: `exos_common.table_payload` (orjson, one array per line);
- JSONEachRow: the same values as one object per line (column names repeated);
- RowBinary: a small struct-based encoder written here for these two tables;
- Native via clickhouse-connect `client.insert` of Python rows, with its Python/Cython
  codec and, when the `clickhouse-connect-core` wheel is installed, its Rust codec
  (`native_codec="rust"`): the encode happens inside the insert, in the writer.

For each: `encode` is the Python work per row where it happens (enrich for the raw
formats, the writer for Native), `insert` the raw insert of the encoded bytes (batches of
`--batch-rows`, with a dedup token, as the writer does) into chDB in this process and into
the embedded ClickHouse server over HTTP. Rows/s of the writer's part is what the writer
would do alone; the payload size is what crosses Kafka.
"""

from __future__ import annotations

import argparse
import struct
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import clickhouse_connect
import orjson
import python_rows  # bench/python_rows.py: the writer's former row building, the baseline

from exos_common.messages import LogRecord
from exos_common.settings import StoreSettings
from exos_common.store import create_client
from exos_common.table_payload import (
    LOG_COLUMNS,
    PAYLOAD_FORMAT,
    TRACE_COLUMNS,
    encode_payload,
    log_row,
    trace_row,
)
from exos_common.testing.clickhouse import EmbeddedClickHouseServer
from exos_common.testing.processes import prepare_database

sys.path.insert(0, str(Path(__file__).parent))
from bench_writer import RESOURCE, VISITOR, enriched_span

TABLES = {"otel_traces": TRACE_COLUMNS, "otel_logs": LOG_COLUMNS}


def enriched_log(i: int, now_ns: int) -> LogRecord:
    session = f"{(i * 7919) % 2000:032x}"
    return LogRecord(
        session_id=session,
        timestamp_ns=now_ns + i * 10_000,
        service_name="appraisal-portal",
        body=f'console.error: request {i} failed: "timeout" after 30000 ms\n  at fetch',
        severity_text="error",
        severity_number=17,
        resource_attributes={**RESOURCE, "rum.sessionId": session},
        attributes={**VISITOR, "location.href": f"https://portal.example.test/orders/{i}"},
    )


def records(table: str, count: int, now_ns: int) -> list[Any]:
    make = enriched_span if table == "otel_traces" else enriched_log
    return [make(i, now_ns) for i in range(count)]


# RowBinary: LEB128 lengths, little-endian numbers, strings as bytes.
def _varint(n: int, out: bytearray) -> None:
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _string(s: str, out: bytearray) -> None:
    data = s.encode()
    _varint(len(data), out)
    out += data


def _map(m: dict[str, str], out: bytearray) -> None:
    _varint(len(m), out)
    for k, v in m.items():
        _string(k, out)
        _string(v, out)


_I64, _U64, _U8 = struct.Struct("<q"), struct.Struct("<Q"), struct.Struct("<B")


def rowbinary(table: str, recs: list[Any]) -> bytes:
    out = bytearray()
    for r in recs:
        if table == "otel_traces":
            out += _I64.pack(r.timestamp_ns)
            for s in (r.trace_id, r.span_id, r.parent_span_id, r.trace_state, r.name, r.kind):
                _string(s, out)
            _string(r.service_name, out)
            _map(r.resource_attributes, out)
            _string(r.scope_name, out)
            _string(r.scope_version, out)
            _map(r.attributes, out)
            out += _U64.pack(r.duration_ns)
            _string(r.status_code, out)
            _string(r.status_message, out)
            _varint(len(r.events), out)
            for e in r.events:
                out += _I64.pack(e.timestamp_ns)
            _varint(len(r.events), out)
            for e in r.events:
                _string(e.name, out)
            _varint(len(r.events), out)
            for e in r.events:
                _map(e.attributes, out)
            for _ in range(4):  # no links in these spans
                _varint(0, out)
        else:
            out += _I64.pack(r.timestamp_ns)
            _string(r.trace_id, out)
            _string(r.span_id, out)
            out += _U8.pack(r.trace_flags)
            _string(r.severity_text, out)
            out += _U8.pack(r.severity_number)
            for s in (r.service_name, r.body, r.resource_schema_url):
                _string(s, out)
            _map(r.resource_attributes, out)
            for s in (r.scope_schema_url, r.scope_name, r.scope_version):
                _string(s, out)
            _map(r.scope_attributes, out)
            _map(r.attributes, out)
            _string(r.event_name, out)
    return bytes(out)


def json_each_row(table: str, recs: list[Any]) -> bytes:
    columns = TABLES[table]
    build = trace_row if table == "otel_traces" else log_row
    option = orjson.OPT_APPEND_NEWLINE
    return b"".join(
        orjson.dumps(dict(zip(columns, build(r), strict=True)), option=option) for r in recs
    )


RAW_FORMATS: dict[str, Callable[[str, list[Any]], bytes]] = {
    PAYLOAD_FORMAT: lambda table, recs: encode_payload(table, recs).body,
    "JSONEachRow": json_each_row,
    "RowBinary": rowbinary,
}


def batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def time_raw(client: Any, table: str, fmt: str, bodies: list[bytes]) -> float:
    run = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    for i, body in enumerate(bodies):
        token = {"insert_deduplicate": 1, "insert_deduplication_token": f"{run}:{i}"}
        client.raw_insert(table, list(TABLES[table]), body, fmt=fmt, settings=token)
    return time.perf_counter() - started


def time_native(client: Any, table: str, row_batches: list[list[list[Any]]]) -> float:
    run = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    for i, rows in enumerate(row_batches):
        token = {"insert_deduplicate": 1, "insert_deduplication_token": f"{run}:{i}"}
        client.insert(table, rows, column_names=list(TABLES[table]), settings=token)
    return time.perf_counter() - started


def count(client: Any, table: str) -> int:
    return int(client.query(f"SELECT count() FROM {table}").result_rows[0][0])


def rust_codec_available() -> bool:
    try:
        import _ch_core  # noqa: F401
    except ImportError:
        return False
    return True


def measure(target: str, url: str, args: argparse.Namespace, now_ns: int) -> list[tuple[Any, ...]]:
    results = []
    for table in TABLES:
        recs = records(table, args.rows, now_ns)
        rec_batches = batches(recs, args.batch_rows)
        for fmt, encode in RAW_FORMATS.items():
            database = f"f_{uuid.uuid4().hex[:8]}"
            prepare_database(url, database)
            started = time.perf_counter()
            bodies = [encode(table, b) for b in rec_batches]
            encode_s = time.perf_counter() - started
            client = create_client(StoreSettings(clickhouse_url=url), database)
            insert_s = time_raw(client, table, fmt, bodies)
            assert count(client, table) == args.rows, (fmt, table, count(client, table))
            client.close()
            size = sum(len(b) for b in bodies) / args.rows
            results.append((target, table, fmt, encode_s, insert_s, size, "enrich"))
        codecs = ["python"] + (["rust"] if rust_codec_available() else [])
        build = python_rows.trace_row if table == "otel_traces" else python_rows.log_row
        for codec in codecs:
            database = f"f_{uuid.uuid4().hex[:8]}"
            prepare_database(url, database)
            started = time.perf_counter()
            row_batches = [[build(r) for r in b] for b in rec_batches]
            build_s = time.perf_counter() - started
            if url.startswith("chdb://"):
                client = clickhouse_connect.get_client(
                    interface="chdb",
                    path=url[len("chdb://") :],
                    database=database,
                    native_codec=codec,
                )
            else:
                client = clickhouse_connect.get_client(
                    dsn=url, database=database, native_codec=codec
                )
            insert_s = time_native(client, table, row_batches)
            assert count(client, table) == args.rows
            client.close()
            name = f"Native, clickhouse-connect {codec} codec"
            results.append((target, table, name, build_s, insert_s, 0.0, "writer"))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--batch-rows", type=int, default=20_000)
    args = parser.parse_args()
    now_ns = time.time_ns()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-formats-") as tmp:
        with EmbeddedClickHouseServer(Path(tmp) / "server") as server:
            results += measure("HTTP (embedded server)", server.url, args, now_ns)
        results += measure("chDB", f"chdb://{Path(tmp) / 'chdb'}", args, now_ns)
    print(f"{args.rows:,} rows per table, batches of {args.batch_rows:,}\n")
    print("| target | table | format | Python encode rows/s (where) | insert rows/s | B/row |")
    print("|---|---|---|---:|---:|---:|")
    for target, table, fmt, encode_s, insert_s, size, where in results:
        print(
            f"| {target} | {table} | {fmt} | {args.rows / encode_s:,.0f} ({where}) | "
            f"{args.rows / insert_s:,.0f} | {size:,.0f} |"
        )


if __name__ == "__main__":
    main()
