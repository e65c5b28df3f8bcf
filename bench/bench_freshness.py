"""Freshness: how long after a span is sent it can be queried, through ingest, enrich and
writer as separate processes; and the memory (RSS) of each process meanwhile.

Run: `uv run python bench/bench_freshness.py [--rate 5000] [--seconds 30] [--warmup 10]
     [--spans 50]`

- Platform: a Kafka broker started for the run, the embedded ClickHouse server, and
  `exos serve ingest`, `enrich`, `writer` as processes (`exos_common.testing.processes`,
  as tests/e2e run them), every setting at its default (writer batch age 0.5 s, enrich's
  visitor and frustration enrichment on, 6 partitions).
- Load: OTLP/HTTP protobuf requests of `--spans` HyperDX spans (HTTP and click spans of
  200 sessions), open loop (request *i* is sent at start + i / requests-per-second, at
  most 256 in flight): first `--warmup` s at a quarter of `--rate`, not counted (a cold
  pipeline -- broker JIT, first transactions, parser caches -- is slow for some seconds
  and would start the measurement with a backlog), then `--seconds` at `--rate`. The last
  span of each request is a marker: `SpanName` `bench.marker`, its TraceId names it.
- Arrival: a poller asks ClickHouse every `--poll` s (0.1) which markers are visible (a
  query on the table's sort key, so it reads only marker rows). Freshness of a request =
  the start of the first poll that sees its marker - the moment its request was handed
  to the HTTP client (the marker travels with the 49 other spans of its request: same
  session, same partition). Resolution: the poll interval plus the query time.
- Stages: a consumer in this process reads `spans.enriched` as the writer does
  (read_committed) and notes when each marker became readable there, which splits
  freshness into ingest + enrich and the writer's part.
- RSS: VmRSS of every process (/proc/PID/status) every 0.5 s; reported idle (platform up,
  before the load) and the maximum during the run. CPU: each process's CPU time during
  the run (/proc/PID/stat) over its wall time, in cores (this machine has 2).

A request ingest refuses (503: Kafka did not acknowledge in time, its backpressure) is
counted and not retried. Reports the rate sent, the requests accepted and refused,
ingest's acknowledgement latency under this load, freshness p50/p99/max (also for the
first and last third of the run, and p99 per 5 s: a pipeline that does not keep up shows
a growing latency), RSS and CPU per process. Everything (broker, ClickHouse server, three
services, load generator, poller) shares this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as KafkaTopicPartition
from bench_ingest import RESOURCE, _kv, paced_load, percentile
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from exos_common.bus.kafka import connection_options
from exos_common.localkafka import free_port, start_local_broker, stop_broker
from exos_common.settings import KafkaSettings, StoreSettings
from exos_common.store import Store, open_store
from exos_common.table_payload import spans_in_message
from exos_common.testing.clickhouse import EmbeddedClickHouseServer
from exos_common.testing.processes import CpuMeter, Platform, RssSampler, prepare_database
from exos_common.topics import Topic

SERVICE = "appraisal-portal"
MARKER = "bench.marker"
SESSIONS = 200


def marker_trace_id(request_no: int) -> str:
    return f"ffff{request_no:028x}"


def request_body(request_no: int, spans: int, ts_ns: int) -> bytes:
    """One request of one session: HTTP and click spans, the marker last."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    session = f"{request_no % SESSIONS:032x}"
    for key, value in {**RESOURCE, "rum.sessionId": session}.items():
        resource_spans.resource.attributes.append(_kv(key, value))
    scope = resource_spans.scope_spans.add()
    scope.scope.name = "@hyperdx/otel-web"
    for i in range(spans):
        span = scope.spans.add()
        marker = i == spans - 1
        trace = marker_trace_id(request_no) if marker else f"{request_no + 1:016x}{i + 1:016x}"
        span.trace_id = bytes.fromhex(trace)
        span.span_id = (request_no * 1000 + i + 1).to_bytes(8, "big")
        span.start_time_unix_nano = ts_ns + i * 1_000
        page = f"https://portal.example.test/orders/{request_no % 500}"
        if marker:
            span.name, span.kind = MARKER, 1
            attributes = {"location.href": page, "bench.request": str(request_no)}
        elif i % 5 < 3:
            span.name, span.kind = "HTTP GET", 3
            attributes = {
                "component": "fetch",
                "http.method": "GET",
                "http.url": f"https://api.example.test/v2/orders/{i}?expand=items",
                "http.status_code": "200",
                "http.host": "api.example.test",
                "location.href": page,
            }
        else:
            span.name, span.kind = "click", 1
            attributes = {
                "event_type": "click",
                "target_element": "BUTTON",
                "target_xpath": f'//*[@id="order-{i}"]/div[2]/button[1]',
                "location.href": page,
            }
        span.end_time_unix_nano = span.start_time_unix_nano + 1_250_000
        for key, value in attributes.items():
            span.attributes.append(_kv(key, value))
    body: bytes = request.SerializeToString()
    return body


class EnrichedWatcher:
    """Reads `spans.enriched` as the writer does (read_committed, from the end) and notes
    when each marker became readable there: the ingest + enrich part of freshness."""

    def __init__(self, bootstrap: str) -> None:
        self.settings = KafkaSettings(kafka_bootstrap=bootstrap)
        self.seen: dict[int, float] = {}

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            isolation_level="read_committed", **connection_options(self.settings)
        )
        await consumer.start()
        try:
            topic = str(Topic.SPANS_ENRICHED)
            partitions = range(self.settings.kafka_topic_partitions)
            consumer.assign([KafkaTopicPartition(topic, p) for p in partitions])
            await consumer.seek_to_end()
            while True:
                batches = await consumer.getmany(timeout_ms=100)
                now = time.time()
                for records in batches.values():
                    for record in records:
                        if MARKER.encode() in record.value:
                            headers = [(k, bytes(v)) for k, v in record.headers]
                            for span in spans_in_message(record.value, headers):
                                self.seen.setdefault(int(span.trace_id[4:], 16), now)
        finally:
            await consumer.stop()


WRITER_METRICS = (
    "exos_sink_duration_seconds_sum",
    "exos_sink_duration_seconds_count",
    "exos_batch_rows_sum",
    "exos_batch_age_seconds_sum",
)


def writer_metrics(platform: Platform) -> dict[str, float]:
    """The writer's insert totals (summed over tables) from its /metrics."""
    totals = dict.fromkeys(WRITER_METRICS, 0.0)
    for line in platform.writer.metrics().splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in totals:
            totals[name] += float(line.rsplit(" ", 1)[1])
    return totals


class MarkerPoller:
    """Polls ClickHouse for markers; `seen[n]` is the wall time of the first poll that
    returned request n's marker."""

    def __init__(self, store: Store, base_ts_ns: int, interval_ns: int) -> None:
        self.store = store
        self.base_ts_ns = base_ts_ns
        self.interval_ns = interval_ns
        self.seen: dict[int, float] = {}
        self.polls = 0
        self.query_s: list[float] = []

    def poll(self, waiting: list[int]) -> None:
        """One query for the markers of the requests in `waiting` (and later ones): they
        have timestamps >= the oldest waiting one's."""
        oldest = min(waiting, default=0)
        started_wall, started = time.time(), time.perf_counter()
        rows = self.store.query_rows(
            "SELECT TraceId FROM otel_traces WHERE ServiceName = {service:String} "
            "AND SpanName = {marker:String} "
            "AND Timestamp >= fromUnixTimestamp64Nano({since:Int64})",
            {
                "service": SERVICE,
                "marker": MARKER,
                "since": self.base_ts_ns + oldest * self.interval_ns,
            },
        )
        self.query_s.append(time.perf_counter() - started)
        self.polls += 1
        for (trace_id,) in rows:
            n = int(trace_id[4:], 16)
            self.seen.setdefault(n, started_wall)


async def run_load(
    platform: Platform,
    poller: MarkerPoller,
    watcher: EnrichedWatcher,
    bodies: list[bytes],
    sent: dict[int, float],
    acked: dict[int, float],
    refused: dict[int, int],
    inserts: dict[str, float],
    args: argparse.Namespace,
) -> float:
    """Send every body paced; (elapsed s). Fills `sent` and `acked` (wall times) and
    `refused` (503 from ingest, or 0 for no answer in 30 s), and `inserts` with the
    writer's insert totals during the measured load."""
    per_second = args.rate / args.spans
    headers = {"content-type": "application/x-protobuf", "authorization": platform.api_key}
    limits = httpx.Limits(max_connections=256)
    drain_deadline: list[float] = []  # set when the load is over

    async def poll_until_visible() -> None:
        while True:
            waiting = [n for n in sent if n not in poller.seen and n not in refused]
            if drain_deadline and (not waiting or time.monotonic() > drain_deadline[0]):
                return
            await asyncio.to_thread(poller.poll, waiting)
            await asyncio.sleep(args.poll)

    async with httpx.AsyncClient(base_url=platform.ingest.url, limits=limits, timeout=30) as client:

        async def one(n: int) -> None:
            sent[n] = time.time()
            try:
                response = await client.post("/v1/traces", content=bodies[n], headers=headers)
            except httpx.TimeoutException:
                refused[n] = 0
                return
            if response.status_code == 200:
                acked[n] = time.time()
            elif response.status_code == 503:  # Kafka did not acknowledge in time: shed
                refused[n] = 503
            else:
                raise RuntimeError(f"ingest answered {response.status_code}: {response.text}")

        polling = asyncio.create_task(poll_until_visible())
        watching = asyncio.create_task(watcher.run())
        await asyncio.sleep(1)  # the watcher is at the end of the topic
        try:
            first = warmup_requests(args)
            await paced_load(first, per_second / 4, one)
            writer_before = await asyncio.to_thread(writer_metrics, platform)

            async def measured(i: int) -> None:
                await one(first + i)

            elapsed, _ = await paced_load(len(bodies) - first, per_second, measured)
            writer_after = await asyncio.to_thread(writer_metrics, platform)
            inserts.update({k: writer_after[k] - writer_before[k] for k in WRITER_METRICS})
            inserts["seconds"] = elapsed
            drain_deadline.append(time.monotonic() + args.drain_timeout)
            await polling
        finally:
            for task in (polling, watching):
                task.cancel()
            await asyncio.gather(polling, watching, return_exceptions=True)
    return elapsed


def warmup_requests(args: argparse.Namespace) -> int:
    """Requests of the warm-up: `--warmup` seconds at a quarter of the rate."""
    return int(args.warmup * args.rate / 4 / args.spans)


def report(
    args: argparse.Namespace,
    elapsed: float,
    sent: dict[int, float],
    acked: dict[int, float],
    refused: dict[int, int],
    poller: MarkerPoller,
    enriched: dict[int, float],
    inserts: dict[str, float],
    idle: dict[str, int],
    sampler: RssSampler,
    cores: dict[str, float],
    machine: float,
) -> None:
    first = warmup_requests(args)
    total = len(sent) - first
    latencies = {n: poller.seen[n] - sent[n] for n in acked if n in poller.seen and n >= first}
    accepted = sum(1 for n in acked if n >= first)
    rate = total * args.spans / elapsed
    print(
        f"{total:,} requests x {args.spans} spans paced at {args.rate:,} spans/s for "
        f"{args.seconds:.0f} s after a {args.warmup:.0f} s warm-up: sent {rate:,.0f} "
        f"spans/s, {accepted:,} requests accepted, "
        f"{sum(1 for n in refused if n >= first):,} refused (503 or no answer in 30 s); "
        f"{len(latencies):,} of {accepted:,} accepted markers visible "
        f"({poller.polls} polls, query p50 {percentile(poller.query_s, 50) * 1000:.0f} ms)\n"
    )
    acks = [acked[n] - sent[n] for n in acked if n >= first]
    if len(acks) >= 2:
        p50, p99 = percentile(acks, 50) * 1000, percentile(acks, 99) * 1000
        print(f"ingest acknowledgement under this load: p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    print(
        f"CPU: the processes below used {sum(cores.values()):.2f} cores, the whole machine "
        f"{machine:.2f} of 2\n"
    )
    print("| freshness (send -> queryable) | p50 s | p99 s | max s |")
    print("|---|---:|---:|---:|")
    third = total // 3
    for name, span in (
        ("all requests", range(first, first + total)),
        ("first third", range(first, first + third)),
        ("last third", range(first + total - third, first + total)),
    ):
        values = [latencies[n] for n in span if n in latencies]
        if len(values) >= 2:
            p50, p99 = percentile(values, 50), percentile(values, 99)
            print(f"| {name} | {p50:.2f} | {p99:.2f} | {max(values):.2f} |")
    both = [n for n in latencies if n in enriched]
    for name, values in (
        ("stage: send -> readable on spans.enriched", [enriched[n] - sent[n] for n in both]),
        ("stage: spans.enriched -> queryable", [poller.seen[n] - enriched[n] for n in both]),
    ):
        if len(values) >= 2:
            p50, p99 = percentile(values, 50), percentile(values, 99)
            print(f"| {name} | {p50:.2f} | {p99:.2f} | {max(values):.2f} |")
    count = inserts.get("exos_sink_duration_seconds_count", 0.0)
    if count:
        busy = inserts["exos_sink_duration_seconds_sum"]
        per_s = count / inserts["seconds"]
        print(
            f"writer during the measured load: {count:.0f} inserts ({per_s:.1f}/s) of "
            f"{inserts['exos_batch_rows_sum'] / count:.0f} rows, "
            f"{busy / count * 1000:.0f} ms each (intent commit, insert, commit), batches "
            f"{inserts['exos_batch_age_seconds_sum'] / count:.2f} s old when flushed; "
            f"inserting {busy / inserts['seconds']:.0%} of the time"
        )
    visible = {n: poller.seen[n] - sent[n] for n in sent if n in poller.seen}
    per_window = int(5 * args.rate / args.spans)
    for what, series in (
        ("freshness", visible),
        ("ingest ack", {n: acked[n] - sent[n] for n in acked}),
    ):
        windows = [
            [series[n] for n in range(start, start + per_window) if n in series]
            for start in range(first, len(sent), per_window)
        ]
        line = " ".join(f"{percentile(w, 99):.2f}" if len(w) > 1 else "-" for w in windows)
        print(f"{what} p99 per 5 s of the measured load (s): {line}")
    print("\n| process | RSS idle MB | RSS max MB | CPU cores used |")
    print("|---|---:|---:|---:|")
    for name in cores:
        rss = (
            f"{idle[name] / 2**20:,.0f} | {sampler.peak[name] / 2**20:,.0f}"
            if name in idle
            else "|"
        )
        print(f"| {name} | {rss} | {cores[name]:.2f} |")


def run(args: argparse.Namespace, bootstrap: str, broker_pid: int, workdir: Path) -> None:
    database = f"bench_fresh_{uuid.uuid4().hex[:8]}"
    with EmbeddedClickHouseServer(workdir / "clickhouse") as server:
        prepare_database(server.url, database)
        env = {
            **os.environ,
            "EXOS_KAFKA_BOOTSTRAP": bootstrap,
            "EXOS_CLICKHOUSE_URL": server.url,
            "EXOS_CLICKHOUSE_DATABASE": database,
        }
        platform = Platform(env, workdir, api_key=f"bench-{uuid.uuid4().hex[:6]}").start()
        try:
            pids = {s.service: s.process.pid for s in platform.services if s.process}
            assert server.process is not None
            pids["embedded ClickHouse server"] = server.process.pid
            pids["Kafka broker (JVM, 512 MiB heap)"] = broker_pid
            sampler = RssSampler(pids)
            load_generator = "load generator + poller (this process)"
            pids_cpu = pids | {load_generator: os.getpid()}

            requests = warmup_requests(args) + int(args.seconds * args.rate / args.spans)
            interval_ns = int(1e9 * args.spans / args.rate)
            base_ts_ns = time.time_ns()
            bodies = [
                request_body(n, args.spans, base_ts_ns + n * interval_ns) for n in range(requests)
            ]
            store = open_store(
                StoreSettings(clickhouse_url=server.url, clickhouse_database=database)
            )
            poller = MarkerPoller(store, base_ts_ns, interval_ns)
            watcher = EnrichedWatcher(bootstrap)
            time.sleep(2)  # let the services settle after start
            idle = sampler.sample()
            sampler.start()
            sent: dict[int, float] = {}
            acked: dict[int, float] = {}
            refused: dict[int, int] = {}
            inserts: dict[str, float] = {}
            meter = CpuMeter(pids_cpu).start()
            try:
                elapsed = asyncio.run(
                    run_load(platform, poller, watcher, bodies, sent, acked, refused, inserts, args)
                )
            finally:
                sampler.stop()
                store.close()
            cores, machine = meter.stop()
            report(
                args,
                elapsed,
                sent,
                acked,
                refused,
                poller,
                watcher.seen,
                inserts,
                idle,
                sampler,
                cores,
                machine,
            )
        finally:
            platform.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=5_000, help="spans/s")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured load")
    parser.add_argument(
        "--warmup", type=float, default=10.0, help="seconds at a quarter of the rate, not counted"
    )
    parser.add_argument("--spans", type=int, default=50, help="spans per request")
    parser.add_argument("--poll", type=float, default=0.1, help="seconds between polls")
    parser.add_argument("--drain-timeout", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-freshness-") as tmp:
        workdir = Path(tmp)
        broker_dir = workdir / "kafka"
        try:
            broker = start_local_broker(broker_dir, free_port())
            run(args, broker.bootstrap, broker.pid, workdir)
        finally:
            stop_broker(broker_dir)


if __name__ == "__main__":
    main()
