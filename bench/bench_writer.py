"""Writer throughput: enriched spans from Kafka into ClickHouse, side by side with raw
clickhouse-connect inserts of the same rows and raw aiokafka consume of the same topic
(the ceilings the writer is measured against).

Run: `uv run python bench/bench_writer.py [--records 200000] [--batch-rows 20000]
[--spans-per-record 10]`

- Pre-load: `--records` enriched HyperDX spans (60% HTTP fetch spans with 9 resource
  timing events, 40% clicks; 12 resource and 15-23 span attributes incl. the visitor
  attributes enrich adds; 2,000 sessions as keys) as enrich publishes them: table
  payloads (`exos_common.table_payload`) of up to `--spans-per-record` spans of one
  session, onto `spans.enriched` (6 partitions) of a Kafka broker started for the run.
- writer: `exos serve writer` as its own process (as deployed) with a fresh consumer group
  and `EXOS_WRITER_BATCH_ROWS=--batch-rows`, everything else default; timed from its
  `/readyz` (it has joined the group; the readiness poll runs every 0.2 s) until its
  group's committed offsets reach the end of the topic (polled every 0.1 s; the writer
  commits only after ClickHouse acknowledged the insert). Afterwards the table must hold
  exactly `--records` rows. Two targets: the embedded ClickHouse server over HTTP (another
  process, as in production) and chDB inside the writer process (the all-in-one mode's
  store).
- baseline `raw insert`: the same rows, already built, inserted from this process with
  clickhouse-connect `client.insert` in batches of `--batch-rows` (with a dedup token, as
  the writer did before payloads) into a fresh database on the same target.
- ceiling `raw insert of the same payloads`: the payloads concatenated into batches of
  `--batch-rows` and inserted raw from this process, no Kafka: the writer's insert alone.
- baseline `raw consume`: one aiokafka consumer (the writer's fetch settings, no group)
  reading the whole topic, no decoding.

Reports rows/s, the writer's ratio to each baseline, the writer process's peak RSS, and
the CPU cores each process used while the writer ran (and the whole machine: more than
the sum means something else ran). Everything (broker, ClickHouse server, writer, this
process) shares this machine's cores.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from python_rows import TRACE_COLUMNS, trace_row  # bench/python_rows.py: the baseline

from exos_common.bus import create_bus, ensure_pipeline_topics
from exos_common.bus.kafka import connection_options
from exos_common.localkafka import free_port, start_local_broker, stop_broker
from exos_common.messages import ClientContext, SpanEvent, SpanRecord
from exos_common.settings import KafkaSettings, StoreSettings
from exos_common.store import create_client, open_store
from exos_common.table_payload import PAYLOAD_FORMAT, encode_payload
from exos_common.testing.clickhouse import EmbeddedClickHouseServer
from exos_common.testing.processes import (
    CpuMeter,
    RssSampler,
    ServiceProcess,
    prepare_database,
)
from exos_common.topics import Topic
from exos_writer.settings import WriterSettings

TOPIC = str(Topic.SPANS_ENRICHED)
SESSIONS = 2_000
RESOURCE = {
    "browser.language": "en-US",
    "hyperdx.browser.timezone": "America/Chicago",
    "telemetry.sdk.language": "webjs",
    "telemetry.sdk.name": "@hyperdx/otel-web",
    "telemetry.sdk.version": "0.19.0",
    "process.runtime.name": "browser",
    "service.name": "appraisal-portal",
    "rum.version": "0.19.0",
    "rum.scriptInstance": "a1b2c3d4e5f60718",
    "deployment.environment": "production",
    "app.version": "2.14.1",
}
VISITOR = {
    "visitor.country": "US",
    "visitor.org": "Example Broadband",
    "visitor.browser": "Chrome",
    "visitor.browser_version": "156.0",
    "visitor.os": "Linux",
    "visitor.os_version": "",
    "visitor.device_type": "desktop",
    "visitor.ip": "203.0.x.x",
    "visitor.language": "en-US",
    "visitor.returning": "true",
    "visitor.visit_count": "3",
}
TIMING_EVENTS = (
    "fetchStart",
    "domainLookupStart",
    "domainLookupEnd",
    "connectStart",
    "connectEnd",
    "requestStart",
    "responseStart",
    "responseEnd",
    "secureConnectionStart",
)


def enriched_span(i: int, now_ns: int) -> SpanRecord:
    """A span as enrich publishes it: an HTTP span (3 of 5) or a click (2 of 5)."""
    session = f"{(i * 7919) % SESSIONS:032x}"
    ts = now_ns + i * 10_000
    page = f"https://portal.example.test/orders/{i % 500}"
    attributes = {
        **VISITOR,
        "visitor.id": f"v-{session[:12]}",
        "userEmail": "ops.lead@example.test",
        "userName": "Ops Lead",
        "location.href": page,
    }
    span = SpanRecord(
        session_id=session,
        timestamp_ns=ts,
        trace_id=f"{i + 1:032x}",
        span_id=f"{i + 1:016x}",
        name="click",
        service_name="appraisal-portal",
        resource_attributes={**RESOURCE, "rum.sessionId": session},
        client=ClientContext(ip="203.0.113.7", user_agent="Mozilla/5.0", received_at_ns=ts),
    )
    if i % 5 < 3:
        span.name, span.kind, span.duration_ns = "HTTP GET", "Client", 38_000_000
        span.scope_name, span.scope_version = "@opentelemetry/instrumentation-fetch", "0.57.0"
        span.attributes = attributes | {
            "component": "fetch",
            "http.method": "GET",
            "http.url": f"https://api.example.test/v2/orders/{i % 500}?expand=items",
            "http.status_code": "200",
            "http.status_text": "OK",
            "http.host": "api.example.test",
            "http.scheme": "https",
            "http.user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36",
            "http.response_content_length": str(1200 + i % 900),
        }
        span.events = [
            SpanEvent(ts + k * 2_000_000, name, {}) for k, name in enumerate(TIMING_EVENTS)
        ]
    else:
        span.duration_ns = 1_250_000
        span.scope_name = "@opentelemetry/instrumentation-user-interaction"
        span.scope_version = "0.62.0"
        span.attributes = attributes | {
            "event_type": "click",
            "target_element": "BUTTON",
            "target_xpath": f'//*[@id="order-{i % 500}"]/div[2]/button[1]',
        }
    return span


Encoded = tuple[bytes, bytes, list[tuple[str, bytes]]]  # key, value, headers


async def preload(bootstrap: str, values: list[Encoded]) -> tuple[float, set[int]]:
    """Create the pipeline topics and publish every record onto `spans.enriched`, in large
    producer batches (not what is measured): (seconds, partitions written)."""
    settings = KafkaSettings(kafka_bootstrap=bootstrap)
    bus = create_bus("kafka", settings)
    await bus.start()
    try:
        await ensure_pipeline_topics(bus, settings)
    finally:
        await bus.stop()
    producer = AIOKafkaProducer(
        acks="all",
        compression_type="lz4",
        linger_ms=20,
        max_batch_size=1 << 20,
        max_request_size=settings.kafka_max_message_bytes,
        **connection_options(settings),
    )
    await producer.start()
    started = time.perf_counter()
    try:
        futures = [await producer.send(TOPIC, v, key=k, headers=h) for k, v, h in values]
        partitions = {m.partition for m in await asyncio.gather(*futures)}
    finally:
        await producer.stop()
    return time.perf_counter() - started, partitions


async def raw_consume(bootstrap: str, partitions: set[int], total: int) -> float:
    settings = KafkaSettings(kafka_bootstrap=bootstrap)
    consumer = AIOKafkaConsumer(
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=settings.kafka_max_message_bytes,
        fetch_max_bytes=max(52_428_800, settings.kafka_max_message_bytes),
        **connection_options(settings),
    )
    await consumer.start()
    try:
        consumer.assign([KafkaTopicPartition(TOPIC, p) for p in partitions])
        await consumer.seek_to_beginning()
        started, seen = time.perf_counter(), 0
        while seen < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5_000)
            seen += sum(len(records) for records in batches.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()


def pin_to_cpu(pid: int, cpu: int) -> None:
    """Every thread of the process (and those it starts later) on that one core."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), {cpu})


def session_payloads(spans: list[SpanRecord], per_record: int) -> list[Encoded]:
    """The spans as enrich publishes them: payloads of up to `per_record` spans of one
    session (enrich puts one session's spans of one fetch in one record)."""
    by_session: dict[str, list[SpanRecord]] = {}
    for span in spans:
        by_session.setdefault(span.session_id, []).append(span)
    out = []
    for session, its_spans in by_session.items():
        for i in range(0, len(its_spans), per_record):
            payload = encode_payload("otel_traces", its_spans[i : i + per_record])
            out.append((session.encode(), payload.body, payload.headers()))
    return out


def payload_insert(
    url: str, database: str, bodies: list[bytes], batch_rows: int, per_record: int
) -> float:
    """The payloads concatenated into batches of about `batch_rows` rows and inserted raw
    from this process: the writer's insert without Kafka."""
    store = open_store(StoreSettings(clickhouse_url=url, clickhouse_database=database))
    step = max(1, batch_rows // per_record)
    try:
        started = time.perf_counter()
        for i in range(0, len(bodies), step):
            body = b"".join(bodies[i : i + step])
            store.insert_raw(
                "otel_traces", TRACE_COLUMNS, body, PAYLOAD_FORMAT, dedup_token=f"{database}:{i}"
            )
        return time.perf_counter() - started
    finally:
        store.close()


def raw_insert(url: str, database: str, rows: list[list[Any]], batch_rows: int) -> float:
    settings = StoreSettings(clickhouse_url=url, clickhouse_database=database)
    client = create_client(settings, database)
    run = uuid.uuid4().hex[:8]
    try:
        started = time.perf_counter()
        for i in range(0, len(rows), batch_rows):
            token = {"insert_deduplicate": 1, "insert_deduplication_token": f"{run}:{i}"}
            client.insert(
                "otel_traces", rows[i : i + batch_rows], list(TRACE_COLUMNS), settings=token
            )
        return time.perf_counter() - started
    finally:
        client.close()


def count_rows(url: str, database: str) -> int:
    store = open_store(StoreSettings(clickhouse_url=url, clickhouse_database=database))
    try:
        return int(store.query_rows("SELECT count() FROM otel_traces")[0][0])
    finally:
        store.close()


def exos(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "exos", *args], env=env, check=True, capture_output=True)


@dataclass
class WriterRun:
    seconds: float
    peak_rss: int
    cores: dict[str, float]  # CPU cores used by the writer and the other processes
    machine_cores: float  # ... and by the whole machine


async def run_writer(
    bootstrap: str,
    url: str,
    database: str,
    total: int,
    others: dict[str, int],
    workdir: Path,
    args: argparse.Namespace,
    cpu: int | None = None,
) -> WriterRun:
    """`exos serve writer` drains the topic into `database`; `others` are the pids of the
    other processes whose CPU is reported with the writer's."""
    group = f"bench-writer-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "EXOS_KAFKA_BOOTSTRAP": bootstrap,
        "EXOS_CLICKHOUSE_URL": url,
        "EXOS_CLICKHOUSE_DATABASE": database,
        "EXOS_WRITER_GROUP": group,
        "EXOS_WRITER_BATCH_ROWS": str(args.batch_rows),
    }
    exos("migrate", env=env)
    settings = KafkaSettings(kafka_bootstrap=bootstrap)
    admin = AIOKafkaAdminClient(**connection_options(settings))
    await admin.start()
    writer = ServiceProcess("writer", env, workdir)
    sampler: RssSampler | None = None
    try:
        writer.start()
        if cpu is not None:
            assert writer.process is not None
            pin_to_cpu(writer.process.pid, cpu)
        started = time.perf_counter()
        assert writer.process is not None
        meter = CpuMeter({"writer": writer.process.pid} | others).start()
        sampler = RssSampler({"writer": writer.process.pid}, every_s=0.2)
        sampler.start()
        deadline = started + args.timeout
        while True:
            offsets = await admin.list_consumer_group_offsets(group)
            done = sum(o.offset for tp, o in offsets.items() if tp.topic == TOPIC and o.offset > 0)
            if done >= total:
                elapsed = time.perf_counter() - started
                cores, machine = meter.stop()
                break
            if time.perf_counter() > deadline or writer.process.poll() is not None:
                raise RuntimeError(f"writer committed {done} of {total}:\n{writer.log_tail()}")
            await asyncio.sleep(0.1)
    finally:
        if sampler is not None:
            sampler.stop()
        writer.stop()
        await admin.close()
    return WriterRun(elapsed, sampler.peak["writer"], cores, machine)


async def main_async(
    args: argparse.Namespace, bootstrap: str, broker_pid: int, workdir: Path
) -> None:
    now_ns = time.time_ns()
    total: int = args.records
    spans = [enriched_span(i, now_ns) for i in range(total)]
    values = session_payloads(spans, args.spans_per_record)
    mean_bytes = sum(len(v) for _, v, _ in values) / len(values)
    preload_s, partitions = await preload(bootstrap, values)
    rows = [trace_row(span) for span in spans]
    payload_bodies = [v for _, v, _ in values]
    records = len(values)
    del values, spans

    consume_s = await raw_consume(bootstrap, partitions, len(payload_bodies))
    raw_s: dict[str, float] = {}
    payload_s: dict[str, float] = {}
    runs: dict[str, WriterRun] = {}
    run = uuid.uuid4().hex[:6]
    others = {"Kafka broker": broker_pid, "bench (this process)": os.getpid()}

    with EmbeddedClickHouseServer(workdir / "clickhouse") as server:
        assert server.process is not None
        prepare_database(server.url, f"raw_{run}")
        raw_s["HTTP"] = raw_insert(server.url, f"raw_{run}", rows, args.batch_rows)
        prepare_database(server.url, f"payload_{run}")
        payload_s["HTTP"] = payload_insert(
            server.url, f"payload_{run}", payload_bodies, args.batch_rows, args.spans_per_record
        )
        with_server = others | {"ClickHouse server": server.process.pid}
        runs["HTTP"] = await run_writer(
            bootstrap, server.url, f"writer_{run}", records, with_server, workdir, args
        )
        stored = count_rows(server.url, f"writer_{run}")
        assert stored == total, f"writer stored {stored} rows, not {total}"

    # chDB: one process per data folder. The writer process owns it first; afterwards
    # this process checks its rows and runs the baseline into another database there.
    chdb_url = f"chdb://{workdir / 'chdb'}"
    runs["chDB"] = await run_writer(
        bootstrap, chdb_url, f"writer_{run}", records, others, workdir, args
    )
    stored = count_rows(chdb_url, f"writer_{run}")
    assert stored == total, f"writer stored {stored} rows, not {total}"
    prepare_database(chdb_url, f"raw_{run}")
    raw_s["chDB"] = raw_insert(chdb_url, f"raw_{run}", rows, args.batch_rows)
    prepare_database(chdb_url, f"payload_{run}")
    payload_s["chDB"] = payload_insert(
        chdb_url, f"payload_{run}", payload_bodies, args.batch_rows, args.spans_per_record
    )

    consume = total / consume_s
    print(
        f"{total:,} enriched spans in payloads of {args.spans_per_record} spans of one session "
        f"({mean_bytes:,.0f} B/record), batches of "
        f"{args.batch_rows:,} rows, {len(partitions)} partitions; pre-load took "
        f"{preload_s:.1f} s\n"
    )
    print("| path | rows/s | writer / baseline | writer peak RSS MB |")
    print("|---|---:|---:|---:|")
    print(f"| raw aiokafka consume (baseline) | {consume:,.0f} | | |")
    names = {"HTTP": "embedded ClickHouse server (HTTP)", "chDB": "chDB in the writer's process"}
    for target, name in names.items():
        raw, writer = total / raw_s[target], total / runs[target].seconds
        print(f"| clickhouse-connect insert of Python rows -> {name} (baseline) | {raw:,.0f} | | |")
        print(
            f"| raw insert of the same payloads, no Kafka -> {name} (ceiling) | "
            f"{total / payload_s[target]:,.0f} | | |"
        )
        print(
            f"| writer -> {name} | {writer:,.0f} | {writer / raw:.0%} of raw insert, "
            f"{writer / consume:.0%} of raw consume | {runs[target].peak_rss / 2**20:,.0f} |"
        )
    print()
    for target, name in names.items():
        used = ", ".join(f"{p} {c:.2f}" for p, c in runs[target].cores.items())
        print(
            f"CPU cores while the writer -> {name} ran: {used}; "
            f"whole machine {runs[target].machine_cores:.2f} of {os.cpu_count()}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch-rows", type=int, default=WriterSettings().writer_batch_rows)
    parser.add_argument("--spans-per-record", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=60.0, help="per writer run, seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-writer-") as tmp:
        workdir = Path(tmp)
        broker_dir = workdir / "kafka"
        try:
            broker = start_local_broker(broker_dir, free_port())
            asyncio.run(main_async(args, broker.bootstrap, broker.pid, workdir))
        finally:
            stop_broker(broker_dir)


if __name__ == "__main__":
    main()
