"""Ingest throughput: OTLP/HTTP through one ingest process onto Kafka, side by side with
raw aiokafka produce of the same records (the ceiling ingest is measured against).

Run: `uv run python bench/bench_ingest.py [--requests 2000] [--concurrency 8] [--spans 50]
     [--rate SPANS_PER_S]`

- ingest: `exos serve ingest` in its own process; clients POST protobuf
  `ExportTraceServiceRequest`s of `--spans` HyperDX click spans each (one session per
  request); a request counts when ingest answered 200, i.e. after Kafka acknowledged
  every span (acks=all, idempotent).
- baseline: one aiokafka producer configured like the bus adapter (acks=all, idempotent,
  lz4, linger 5 ms) sends the same already-encoded span records in batches of `--spans`
  with the same concurrency and waits for all acks per batch.

By default the load is closed (`--concurrency` clients, each sends when its previous
request was answered): that measures the most ingest takes. With `--rate`, both paths get
an open-loop load of that many spans/s instead (request *i* is sent at start + i / rate,
whatever the answers do, up to 256 in flight): that measures acknowledgement latency at a
given rate.

Reports spans/s, p50/p99 of the per-request (per-batch) acknowledgement latency, and the
CPU cores each process used (and the whole machine: more means something else ran). The
broker is `EXOS_TEST_KAFKA_BOOTSTRAP` when set, else a local one started for the run.
Everything (broker, ingest, load generator) shares this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from exos_common import codec
from exos_common.bus import create_bus, ensure_pipeline_topics
from exos_common.localkafka import free_port, start_local_broker, stop_broker
from exos_common.messages import ClientContext
from exos_common.settings import KafkaSettings
from exos_common.testing.processes import CpuMeter, ServiceProcess
from exos_ingest.flatten import flatten_traces

API_KEY = "bench-key"
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
}


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def click_request(request_no: int, spans: int) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    for key, value in {**RESOURCE, "rum.sessionId": f"{request_no:032x}"}.items():
        resource_spans.resource.attributes.append(_kv(key, value))
    scope = resource_spans.scope_spans.add()
    scope.scope.name = "@opentelemetry/instrumentation-user-interaction"
    scope.scope.version = "0.62.0"
    for i in range(spans):
        span = scope.spans.add()
        span.trace_id = (request_no * 1000 + i + 1).to_bytes(16, "big")
        span.span_id = (i + 1).to_bytes(8, "big")
        span.name = "click"
        span.kind = 1
        span.start_time_unix_nano = 1_764_300_000_000_000_000 + i * 1_000_000
        span.end_time_unix_nano = span.start_time_unix_nano + 1_250_000
        span.flags = 257
        for key, value in {
            "event_type": "click",
            "target_element": "BUTTON",
            "target_xpath": f'//*[@id="order-{i}"]/div[2]/button[1]',
            "http.url": f"https://portal.example.test/orders/{i}",
            "component": "user-interaction",
            "location.href": f"https://portal.example.test/orders/{i}",
            "userEmail": "ops.lead@example.test",
        }.items():
            span.attributes.append(_kv(key, value))
    return request


async def run_load(
    total: int, concurrency: int, one: Callable[[int], Awaitable[None]]
) -> tuple[float, list[float]]:
    """`total` calls of `one(i)` by `concurrency` workers: (elapsed s, latencies s)."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


async def paced_load(
    total: int, per_second: float, one: Callable[[int], Awaitable[None]], max_in_flight: int = 256
) -> tuple[float, list[float]]:
    """Open loop: call i starts at start + i / per_second, whatever earlier calls do (at
    most `max_in_flight` pending; beyond that the schedule slips, which the achieved rate
    shows): (elapsed s, latencies s, each from the call's actual start)."""
    latencies: list[float] = []
    gate = asyncio.Semaphore(max_in_flight)

    async def call(i: int) -> None:
        try:
            started = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - started)
        finally:
            gate.release()

    tasks = []
    started = time.perf_counter()
    for i in range(total):
        delay = started + i / per_second - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await gate.acquire()
        tasks.append(asyncio.create_task(call(i)))
    await asyncio.gather(*tasks)
    return time.perf_counter() - started, latencies


async def load(
    total: int, one: Callable[[int], Awaitable[None]], args: argparse.Namespace
) -> tuple[float, list[float]]:
    """Warm up closed-loop, then the measured run: paced when `--rate` is given."""
    await run_load(args.warmup, args.concurrency, one)
    if args.rate:
        return await paced_load(total, args.rate / args.spans, one)
    return await run_load(total, args.concurrency, one)


def start_ingest(bootstrap: str, workdir: Path) -> ServiceProcess:
    env = {
        **os.environ,
        "EXOS_KAFKA_BOOTSTRAP": bootstrap,
        "EXOS_INGEST_API_KEYS": API_KEY,
        "EXOS_LOG_LEVEL": "WARNING",
    }
    return ServiceProcess("ingest", env, workdir).start()


async def bench_ingest(
    url: str, bodies: list[bytes], args: argparse.Namespace
) -> tuple[float, list[float]]:
    headers = {"content-type": "application/x-protobuf", "authorization": API_KEY}
    limits = httpx.Limits(max_connections=256 if args.rate else args.concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits) as client:

        async def one(i: int) -> None:
            response = await client.post(
                "/v1/traces", content=bodies[i % len(bodies)], headers=headers
            )
            if response.status_code != 200:
                raise RuntimeError(f"ingest answered {response.status_code}: {response.text}")

        return await load(args.requests, one, args)


async def bench_raw_kafka(
    bootstrap: str,
    batches: list[list[tuple[bytes, bytes, list[tuple[str, bytes]]]]],
    args: argparse.Namespace,
) -> tuple[float, list[float]]:
    settings = KafkaSettings(kafka_bootstrap=bootstrap)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        compression_type="lz4",
        linger_ms=5,
        max_request_size=settings.kafka_max_message_bytes,
    )
    await producer.start()
    try:

        async def one(i: int) -> None:
            futures = [
                await producer.send("otlp.spans.raw", value, key=key, headers=headers)
                for key, value, headers in batches[i % len(batches)]
            ]
            await asyncio.gather(*futures)

        return await load(args.requests, one, args)
    finally:
        await producer.stop()


def encoded_batches(
    requests: list[ExportTraceServiceRequest],
) -> list[list[tuple[bytes, bytes, list[tuple[str, bytes]]]]]:
    client = ClientContext(ip="203.0.113.7", user_agent="Mozilla/5.0", received_at_ns=1)
    batches = []
    for request in requests:
        batch = []
        for record in flatten_traces(request, client).records:
            value, headers = codec.encode(record)
            batch.append((record.session_id.encode(), value, headers))
        batches.append(batch)
    return batches


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def report(name: str, elapsed: float, latencies: list[float], spans: int) -> str:
    rate = len(latencies) * spans / elapsed
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    return f"| {name} | {rate:,.0f} | {p50:.1f} | {p99:.1f} |"


async def main_async(
    args: argparse.Namespace, bootstrap: str, broker_pid: int | None, workdir: Path
) -> None:
    settings = KafkaSettings(kafka_bootstrap=bootstrap)
    bus = create_bus("kafka", settings)
    await bus.start()
    await ensure_pipeline_topics(bus, settings)
    await bus.stop()

    requests = [click_request(n, args.spans) for n in range(64)]
    bodies = [r.SerializeToString() for r in requests]
    others = {"load generator (this process)": os.getpid()}
    if broker_pid is not None:
        others["Kafka broker"] = broker_pid
    ingest = start_ingest(bootstrap, workdir)
    try:
        assert ingest.process is not None
        meter = CpuMeter({"ingest": ingest.process.pid} | others).start()
        ingest_elapsed, ingest_latencies = await bench_ingest(ingest.url, bodies, args)
        ingest_cpu = meter.stop()
    finally:
        ingest.stop()
    meter = CpuMeter(others).start()
    raw_elapsed, raw_latencies = await bench_raw_kafka(bootstrap, encoded_batches(requests), args)
    raw_cpu = meter.stop()

    shape = f"paced at {args.rate:,} spans/s" if args.rate else f"concurrency {args.concurrency}"
    print(
        f"{args.requests} requests x {args.spans} spans, {shape}, "
        f"body {len(bodies[0]):,} bytes protobuf\n"
    )
    print("| path | spans/s | p50 ack ms | p99 ack ms |")
    print("|---|---:|---:|---:|")
    print(
        report("ingest (OTLP/HTTP protobuf -> Kafka)", ingest_elapsed, ingest_latencies, args.spans)
    )
    print(report("raw aiokafka produce (baseline)", raw_elapsed, raw_latencies, args.spans))
    print()
    for name, (cores, machine) in (("ingest", ingest_cpu), ("raw produce", raw_cpu)):
        used = ", ".join(f"{p} {c:.2f}" for p, c in cores.items())
        print(f"CPU cores during {name} (warm-up included): {used}; whole machine {machine:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--spans", type=int, default=50)
    parser.add_argument("--rate", type=int, default=0, help="spans/s, open loop (default: closed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        workdir = Path(tmp)
        given = os.environ.get("EXOS_TEST_KAFKA_BOOTSTRAP")
        broker_dir = workdir / "kafka"
        broker = None if given else start_local_broker(broker_dir, free_port())
        try:
            bootstrap = given or broker.bootstrap  # type: ignore[union-attr]
            asyncio.run(main_async(args, bootstrap, broker.pid if broker else None, workdir))
        finally:
            if not given:
                stop_broker(broker_dir)


if __name__ == "__main__":
    main()
