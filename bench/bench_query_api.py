"""query-api latency: p50/p95 of EVERY endpoint (the app's OpenAPI is walked, so process
mining, OCPM, analytics, site health and stats alike) on the demo data at ~1M and ~10M
spans, beside the bare chDB time of the same SQL (the `queries` each response carries,
run again directly on the store with the same parameters). API overhead = endpoint time
- bare SQL time.

Run: `uv run python bench/bench_query_api.py [--sizes 1,10] [--runs 10]`  (not in make test)

Data sets (cached under ~/.cache/exos/bench-query-api, built once):
- base: `exos up --demo` (scale 1, ~103k spans) loaded through the real pipeline into a
  data folder, then stopped.
- bench_<N>m databases in the same chDB folder: the base's otel_traces and otel_logs
  copied k times with INSERT ... SELECT, each copy with its own session, order and
  visitor ids and shifted k seconds, so the materialized views (span_facts,
  session_summary, process_events) fill as they would on ingest. Replay chunks are not
  copied (no endpoint here reads them but /api/stats).

Targets (at 10M spans): dashboards p95 <= 300 ms, funnels <= 1 s, sequence /
process mining <= 3 s, API overhead <= 20 ms.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from exos_common.localkafka import free_port
from exos_common.schema import migrate
from exos_common.settings import StoreSettings
from exos_common.store import open_store
from exos_query_api.app import create_app

CACHE = Path(os.environ.get("EXOS_BENCH_CACHE", Path.home() / ".cache/exos/bench-query-api"))
BASE = CACHE / "base"
CHDB = BASE / "data" / "clickhouse"
SKIP = {"/healthz", "/readyz", "/metrics"}
PAGES = ["/inbox", "/orders/:id", "/orders/:id/scheduling"]
# Values for parameters an endpoint requires (others keep their defaults).
REQUIRED = {"anchor": "/inbox", "steps": PAGES}

TRACE_COLUMNS = (
    "Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName, "
    "ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, "
    "StatusMessage, `Events.Timestamp`, `Events.Name`, `Events.Attributes`, `Links.TraceId`, "
    "`Links.SpanId`, `Links.TraceState`, `Links.Attributes`"
)
# Copy n of a span: its own session, order and visitor ids, n seconds later.
COPY_TRACES = f"""
INSERT INTO {{db}}.otel_traces ({TRACE_COLUMNS})
SELECT Timestamp + toIntervalSecond(n.number), TraceId, SpanId, ParentSpanId, TraceState,
       SpanName, SpanKind, ServiceName,
       mapApply((k, v) -> (k, if(k = 'rum.sessionId', concat(v, '-', toString(n.number)), v)),
                ResourceAttributes),
       ScopeName, ScopeVersion,
       mapApply((k, v) -> (k, if(k IN ('order.id', 'visitor.id') AND v != '',
                                 concat(v, '-', toString(n.number)), v)), SpanAttributes),
       Duration, StatusCode, StatusMessage, `Events.Timestamp`, `Events.Name`,
       `Events.Attributes`, `Links.TraceId`, `Links.SpanId`, `Links.TraceState`,
       `Links.Attributes`
FROM default.otel_traces CROSS JOIN numbers({{first}}, {{count}}) AS n
"""
LOG_COLUMNS = (
    "Timestamp, TraceId, SpanId, TraceFlags, SeverityText, SeverityNumber, ServiceName, Body, "
    "ResourceSchemaUrl, ResourceAttributes, ScopeSchemaUrl, ScopeName, ScopeVersion, "
    "ScopeAttributes, LogAttributes, EventName"
)
COPY_LOGS = f"""
INSERT INTO {{db}}.otel_logs ({LOG_COLUMNS})
SELECT Timestamp + toIntervalSecond(n.number), TraceId, SpanId, TraceFlags, SeverityText,
       SeverityNumber, ServiceName, Body, ResourceSchemaUrl,
       mapApply((k, v) -> (k, if(k = 'rum.sessionId', concat(v, '-', toString(n.number)), v)),
                ResourceAttributes),
       ScopeSchemaUrl, ScopeName, ScopeVersion, ScopeAttributes, LogAttributes, EventName
FROM default.otel_logs CROSS JOIN numbers({{first}}, {{count}}) AS n
"""


def load_base() -> None:
    """`exos up --demo` into the cache folder, until the writer has caught up."""
    if (BASE / "done").exists():
        return
    BASE.mkdir(parents=True, exist_ok=True)
    ports = [free_port() for _ in range(3)]
    command = [sys.executable, "-m", "exos", "up", "--demo", "--data", str(BASE / "data")]
    command += ["--port", str(ports[0]), "--otlp-port", str(ports[1])]
    command += ["--clickhouse-port", str(ports[2])]
    log = BASE / "up.log"
    print(f"loading the demo (scale 1) into {BASE} ...", flush=True)
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    clickhouse, last = f"http://127.0.0.1:{ports[2]}", ""
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            time.sleep(2)
            if "demo loaded" not in log.read_text(errors="replace"):
                continue
            now = httpx.get(
                clickhouse, params={"query": "SELECT count() FROM otel_traces"}
            ).text.strip()
            if now == last:
                break
            last = now
        else:
            raise TimeoutError(log.read_text()[-2000:])
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(300)
    (BASE / "done").write_text(last)


def build_copy(database: str, copies: int) -> None:
    """bench_<N>m: `copies` copies of the base, migrated first so the views fill. An
    existing copy is migrated again, so a migration added since (and its backfill) lands."""
    settings = StoreSettings(clickhouse_url=f"chdb://{CHDB}", clickhouse_database=database)
    target = open_store(settings, create_database=True)
    migrate(target, settings, dedup_window=1000)
    if target.query_rows("EXISTS TABLE bench_done")[0][0]:
        target.close()
        return
    began = time.monotonic()
    for first in range(0, copies, 5):
        count = min(5, copies - first)
        for sql in (COPY_TRACES, COPY_LOGS):
            target.client.command(
                sql.format(db=database, first=first, count=count),
                settings={"insert_deduplicate": 0, "max_insert_threads": 2},
            )
        print(f"  {database}: {first + count}/{copies} copies", flush=True)
    target.command("OPTIMIZE TABLE session_summary FINAL")
    target.command("CREATE TABLE bench_done (at DateTime DEFAULT now()) ENGINE = Log")
    target.command("INSERT INTO bench_done VALUES (now())")
    print(f"  {database} built in {time.monotonic() - began:.0f} s", flush=True)
    target.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


SLOW_MS = 15_000


def _is_json(response: Any) -> bool:
    return bool(response.headers.get("content-type", "").startswith("application/json"))


def endpoints(app_spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path, item in app_spec["paths"].items():
        operation = item.get("get")
        if path in SKIP or operation is None:
            continue
        params: dict[str, Any] = {}
        for parameter in operation.get("parameters", []):
            if parameter.get("required"):
                name = parameter["name"]
                schema = parameter["schema"]
                if name in REQUIRED:
                    params[name] = REQUIRED[name]
                elif "$ref" in schema:
                    component = schema["$ref"].rsplit("/", 1)[-1]
                    params[name] = app_spec["components"]["schemas"][component]["enum"][0]
        found.append((path, params))
    return found


def target_of(path: str) -> tuple[str, float]:
    if "funnel" in path:
        return "funnel", 1000.0
    if path.startswith(("/api/process", "/api/ocpm")) or path.endswith("/journeys"):
        return "sequence", 3000.0
    return "dashboard", 300.0


def bench_database(database: str, runs: int, only: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    settings = StoreSettings(clickhouse_url=f"chdb://{CHDB}", clickhouse_database=database)
    store = open_store(settings)
    spans = store.query_rows("SELECT count(), min(Timestamp), max(Timestamp) FROM otel_traces")[0]
    window = {
        "from": spans[1].strftime("%Y-%m-%dT%H:%M:%S"),
        "to": (spans[2].replace(microsecond=0)).strftime("%Y-%m-%dT%H:%M:%S.999999"),
    }
    print(f"\n{database}: {spans[0]:,} spans, {window['from']} .. {window['to']}", flush=True)
    results = []
    with TestClient(create_app(store=store), raise_server_exceptions=False) as client:
        for path, required in endpoints(client.app.openapi()):  # type: ignore[attr-defined]
            if only and not path.startswith(only):
                continue
            params = {**window, **required}
            began = time.perf_counter()
            response = client.get(path, params=params)
            first_ms = (time.perf_counter() - began) * 1000
            if response.status_code != 200:
                results.append({"path": path, "status": response.status_code, "spans": spans[0]})
                print(f"  {path}: {response.status_code} {response.text[:200]}", flush=True)
                continue
            ran = response.json().get("queries", []) if _is_json(response) else []
            endpoint_ms, bare_ms = [], []
            # An endpoint slower than SLOW_MS (an export) is timed once more, not `runs` times.
            for _ in range(runs if first_ms < SLOW_MS else 1):
                began = time.perf_counter()
                assert client.get(path, params=params).status_code == 200
                endpoint_ms.append((time.perf_counter() - began) * 1000)
                began = time.perf_counter()
                for query in ran:
                    store.query(query["sql"], query["parameters"])
                bare_ms.append((time.perf_counter() - began) * 1000)
            kind, target = target_of(path)
            row = {
                "path": path,
                "status": 200,
                "spans": spans[0],
                "kind": kind,
                "target": target,
                "p50": percentile(endpoint_ms, 0.5),
                "p95": percentile(endpoint_ms, 0.95),
                "bare_p50": percentile(bare_ms, 0.5),
                "bare_p95": percentile(bare_ms, 0.95),
                "queries": len(ran),
            }
            row["overhead"] = row["p50"] - row["bare_p50"]
            results.append(row)
            print(
                f"  {path:42} p50 {row['p50']:8.1f}  p95 {row['p95']:8.1f}  bare p50 "
                f"{row['bare_p50']:8.1f}  p95 {row['bare_p95']:8.1f}  overhead "
                f"{row['overhead']:6.1f} ms",
                flush=True,
            )
    store.close()
    return results


def report(results: list[dict[str, Any]]) -> None:
    print("\n| endpoint | spans | p50 ms | p95 ms | bare SQL p50 / p95 ms | overhead ms | target |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        if r["status"] != 200:
            print(f"| `{r['path']}` | {r['spans']:,} | HTTP {r['status']} | | | | |")
            continue
        verdict = "met" if r["p95"] <= r["target"] else "MISSED"
        print(
            f"| `{r['path']}` | {r['spans']:,} | {r['p50']:.0f} | {r['p95']:.0f} | "
            f"{r['bare_p50']:.0f} / {r['bare_p95']:.0f} | {r['overhead']:.1f} | "
            f"{r['kind']} <= {r['target']:.0f}: {verdict} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10", help="millions of spans, comma separated")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--build-only", action="store_true", help="build the data sets only")
    parser.add_argument("--only", default="", help="path prefixes to time, comma separated")
    args = parser.parse_args()
    load_base()
    base = open_store(StoreSettings(clickhouse_url=f"chdb://{CHDB}"))
    base_spans = int(base.query_rows("SELECT count() FROM otel_traces")[0][0])
    sizes = [int(s) for s in args.sizes.split(",")]
    for millions in sizes:
        copies = max(1, round(millions * 1_000_000 / base_spans))
        build_copy(f"bench_{millions}m", copies)
    base.close()
    if args.build_only:
        return
    results = []
    for millions in sizes:
        only = tuple(p for p in args.only.split(",") if p)
        results += bench_database(f"bench_{millions}m", args.runs, only)
    report(results)


if __name__ == "__main__":
    main()
