"""The writer against the OpenTelemetry Collector's `clickhouseexporter`, writing the same
spans into the same embedded ClickHouse server, one core each.

Run: `uv run python bench/bench_writer_vs_collector.py --collector PATH [--spans 100000]`

PATH is a collector built with the OpenTelemetry Collector Builder from the Go module
proxy: the `otlpreceiver` and `batchprocessor` (v0.165.0) and the contrib
`clickhouseexporter` (v0.165.1), e.g. with this `builder-config.yaml`:

    dist: {name: otelcol-ch, output_path: ./otelcol, version: 0.165.0}
    receivers: [{gomod: go.opentelemetry.io/collector/receiver/otlpreceiver v0.165.0}]
    processors: [{gomod: go.opentelemetry.io/collector/processor/batchprocessor v0.165.0}]
    exporters:
      - gomod: github.com/open-telemetry/opentelemetry-collector-contrib/exporter/\
clickhouseexporter v0.165.1   (one line)
    providers:
      - gomod: go.opentelemetry.io/collector/confmap/provider/fileprovider v1.71.0

    go install go.opentelemetry.io/collector/cmd/builder@v0.165.0
    builder --config builder-config.yaml

- collector: OTLP/HTTP in, batch processor (`--batch-rows` spans), the exporter talking
  to the embedded server over its HTTP endpoint (the server has no native protocol),
  its own schema in its own database, `GOMAXPROCS=1`, pinned to one core. This process
  posts the spans as pre-encoded OTLP protobuf requests (one session's spans per
  request, as a browser sends them) and the time runs from the first request until the
  table holds every span.
- writer: `exos serve writer` pinned to one core, the same spans as enrich publishes
  them (`bench_writer.session_payloads`) pre-loaded on Kafka, timed as in
  `bench_writer.py`.

Both targets count their rows afterwards; the ratio writer / collector is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import IO

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from exos_common.localkafka import free_port, start_local_broker, stop_broker
from exos_common.messages import SpanRecord
from exos_common.settings import StoreSettings
from exos_common.store import open_store
from exos_common.testing.clickhouse import EmbeddedClickHouseServer
from exos_common.testing.processes import prepare_database

sys.path.insert(0, str(Path(__file__).parent))
from bench_writer import enriched_span, pin_to_cpu, preload, run_writer, session_payloads

KINDS = {"Internal": Span.SPAN_KIND_INTERNAL, "Client": Span.SPAN_KIND_CLIENT}
# `compress: none`: the embedded server refuses ClickHouse's own block compression over
# HTTP (`compress=1`), which the exporter's client asks for by default.
COLLECTOR_CONFIG = """
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp_port}
processors:
  batch:
    send_batch_size: {batch_rows}
    send_batch_max_size: {batch_rows}
    timeout: 1s
exporters:
  clickhouse:
    endpoint: http://127.0.0.1:{clickhouse_port}
    database: {database}
    create_schema: true
    compress: none
    traces_table_name: otel_traces
    logs_table_name: otel_logs
    timeout: 60s
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: true
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [clickhouse]
"""


def _kv(attributes: dict[str, str]) -> list[KeyValue]:
    return [KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in attributes.items()]


def otlp_requests(spans: list[SpanRecord]) -> list[bytes]:
    """One request per session: its spans under its resource, protobuf-encoded."""
    by_session: dict[str, list[SpanRecord]] = {}
    for span in spans:
        by_session.setdefault(span.session_id, []).append(span)
    bodies = []
    for its_spans in by_session.values():
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend(_kv(its_spans[0].resource_attributes))
        for span in its_spans:
            scope = resource_spans.scope_spans.add()
            scope.scope.name, scope.scope.version = span.scope_name, span.scope_version
            out = scope.spans.add(
                trace_id=bytes.fromhex(span.trace_id),
                span_id=bytes.fromhex(span.span_id),
                name=span.name,
                kind=KINDS[span.kind],
                start_time_unix_nano=span.timestamp_ns,
                end_time_unix_nano=span.timestamp_ns + span.duration_ns,
            )
            out.attributes.extend(_kv(span.attributes))
            for event in span.events:
                added = out.events.add(time_unix_nano=event.timestamp_ns, name=event.name)
                added.attributes.extend(_kv(event.attributes))
        bodies.append(request.SerializeToString())
    return bodies


def count_spans(url: str, database: str) -> int:
    store = open_store(StoreSettings(clickhouse_url=url, clickhouse_database=database))
    try:
        return int(store.query_rows("SELECT count() FROM otel_traces")[0][0])
    except Exception:  # the exporter has not created its table yet
        return 0
    finally:
        store.close()


def start_collector(binary: str, config: Path, log: IO[bytes]) -> subprocess.Popen[bytes]:
    command = ["taskset", "-c", "0", binary, "--config", str(config)]
    env = {**os.environ, "GOMAXPROCS": "1"}
    return subprocess.Popen(command, env=env, stdout=log, stderr=log)


async def run_collector(
    binary: str,
    server_url: str,
    server_port: int,
    total: int,
    bodies: list[bytes],
    workdir: Path,
    args: argparse.Namespace,
) -> float:
    database = f"collector_{uuid.uuid4().hex[:6]}"
    prepare_database(server_url, database)  # the database; the exporter makes its tables
    otlp_port = free_port()
    config = workdir / "collector.yaml"
    config.write_text(
        COLLECTOR_CONFIG.format(
            otlp_port=otlp_port,
            batch_rows=args.batch_rows,
            clickhouse_port=server_port,
            database=database,
        )
    )
    log = (workdir / "collector.log").open("wb")
    process = start_collector(binary, config, log)
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            url = f"http://127.0.0.1:{otlp_port}/v1/traces"
            deadline = time.monotonic() + 30
            while True:  # ready when an empty request is accepted
                try:
                    ok = await client.post(
                        url, content=b"", headers={"Content-Type": "application/x-protobuf"}
                    )
                    if ok.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError((workdir / "collector.log").read_text()[-3000:])
                await asyncio.sleep(0.2)
            started = time.perf_counter()
            headers = {"Content-Type": "application/x-protobuf"}
            queue = list(bodies)

            async def sender() -> None:
                while queue:
                    body = queue.pop()
                    answer = await client.post(url, content=body, headers=headers)
                    answer.raise_for_status()

            await asyncio.gather(*(sender() for _ in range(8)))
            deadline = time.monotonic() + args.timeout
            while count_spans(server_url, database) < total:
                if time.monotonic() > deadline or process.poll() is not None:
                    tail = (workdir / "collector.log").read_text()[-3000:]
                    raise RuntimeError(f"collector stored too few spans:\n{tail}")
                await asyncio.sleep(0.1)
            elapsed = time.perf_counter() - started
        assert count_spans(server_url, database) == total
        return elapsed
    finally:
        process.terminate()
        process.wait(30)
        log.close()


async def main_async(
    args: argparse.Namespace, bootstrap: str, broker_pid: int, workdir: Path
) -> None:
    now_ns = time.time_ns()
    spans = [enriched_span(i, now_ns) for i in range(args.spans)]
    payloads = session_payloads(spans, args.spans_per_record)
    requests = otlp_requests(spans)
    await preload(bootstrap, payloads)
    with EmbeddedClickHouseServer(workdir / "clickhouse") as server:
        assert server.process is not None
        pin_to_cpu(server.process.pid, 1)
        collector_s: float | None = None
        try:
            collector_s = await run_collector(
                args.collector, server.url, server.port, args.spans, requests, workdir, args
            )
        except RuntimeError as exc:  # report why, and still measure the writer
            why = [line for line in str(exc).splitlines() if line.startswith("Error:")]
            print(f"collector failed: {why[-1] if why else str(exc)[-600:]}")
        database = f"writer_{uuid.uuid4().hex[:6]}"
        others = {"Kafka broker": broker_pid, "ClickHouse server": server.process.pid}
        writer = await run_writer(
            bootstrap, server.url, database, len(payloads), others, workdir, args, cpu=0
        )
        assert count_spans(server.url, database) == args.spans
    written = args.spans / writer.seconds
    print(f"{args.spans:,} spans, batches of {args.batch_rows:,}, ClickHouse: embedded server")
    print("| path | spans/s |")
    print("|---|---:|")
    name = "OTel Collector otlp -> batch -> clickhouseexporter (HTTP), 1 core"
    if collector_s is not None:
        print(f"| {name} | {args.spans / collector_s:,.0f} |")
    else:
        print(f"| {name} | did not start (above) |")
    print(f"| EXOS writer, Kafka payloads -> raw insert (HTTP), 1 core | {written:,.0f} |")
    if collector_s is not None:
        print(f"\nwriter / collector: {written / (args.spans / collector_s):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--collector", required=True, help="the built collector binary")
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--batch-rows", type=int, default=20_000)
    parser.add_argument("--spans-per-record", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-collector-") as tmp:
        workdir = Path(tmp)
        try:
            broker = start_local_broker(workdir / "kafka", free_port())
            asyncio.run(main_async(args, broker.bootstrap, broker.pid, workdir))
        finally:
            stop_broker(workdir / "kafka")


if __name__ == "__main__":
    main()
