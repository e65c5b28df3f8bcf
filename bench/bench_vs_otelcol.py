"""EXOS ingest vs the Go OpenTelemetry Collector (OTLP/HTTP receiver -> Kafka exporter),
the same request bodies onto the same Kafka broker, each receiver pinned to one core.

Run: `uv run python bench/bench_vs_otelcol.py [--requests 3000] [--spans 100]
     [--connections 16] [--encodings protobuf,json]`

- The collector is built once from the Go module proxy (`go install` of the collector
  builder, then the builder with an otlp receiver + kafka exporter manifest) and cached
  under `~/.cache/exos/otelcol/`; it runs with its sending queue off, so like ingest it
  answers 200 only after Kafka acknowledged (acks=all, lz4), and with GOMAXPROCS=1.
- Ingest is `exos serve ingest` (`EXOS_INGEST_DECODE_WORKERS` as configured).
- Both run under `taskset -c 0`; the Kafka broker and the load generator (a small Go
  program in `bench/loadgen/`, `--connections` keep-alive connections) share the other
  core(s).
- Bodies: one session per request, `--spans` HyperDX-like click spans, protobuf and
  OTLP/JSON (hex ids) built from the same spans.

Prints spans/s for both, per encoding, and the ratio ingest / collector.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from google.protobuf import json_format

from exos_common.bus import create_bus, ensure_pipeline_topics
from exos_common.localkafka import free_port, start_local_broker, stop_broker
from exos_common.settings import KafkaSettings
from exos_common.topics import TopicSpec

sys.path.insert(0, str(Path(__file__).parent))
from bench_ingest import API_KEY, click_request

CACHE = Path.home() / ".cache" / "exos" / "otelcol"
COLLECTOR_VERSION = "0.165.0"
CONTRIB_VERSION = "0.165.1"
BINARY = CACHE / f"otelcol-perf-{COLLECTOR_VERSION}"
KAFKA_EXPORTER = "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/kafkaexporter"
COLLECTOR_TOPIC = "otelcol.spans"

MANIFEST = f"""
dist:
  name: otelcol-perf
  description: OTLP/HTTP receiver -> Kafka, for the EXOS ingest comparison
  output_path: ./otelcol
  version: {COLLECTOR_VERSION}
receivers:
  - gomod: go.opentelemetry.io/collector/receiver/otlpreceiver v{COLLECTOR_VERSION}
exporters:
  - gomod: {KAFKA_EXPORTER} v{CONTRIB_VERSION}
providers:
  - gomod: go.opentelemetry.io/collector/confmap/provider/fileprovider v1.71.0
"""

CONFIG = """
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{port}
exporters:
  kafka:
    brokers: ["{bootstrap}"]
    traces:
      topic: {topic}
      encoding: otlp_proto
    producer:
      required_acks: -1
      compression: lz4
      max_message_bytes: 8388608
    sending_queue:
      enabled: false
service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [kafka]
"""


def build_collector() -> Path:
    """The collector binary, built from the Go module proxy on first use."""
    if BINARY.exists():
        return BINARY
    work = CACHE / "build"
    work.mkdir(parents=True, exist_ok=True)
    (work / "builder-config.yaml").write_text(MANIFEST)
    env = {**os.environ, "GOBIN": str(work / "bin")}
    print("building the collector (Go module proxy; a few minutes) ...", flush=True)
    subprocess.run(
        ["go", "install", f"go.opentelemetry.io/collector/cmd/builder@v{COLLECTOR_VERSION}"],
        check=True,
        env=env,
    )
    subprocess.run(
        [str(work / "bin" / "builder"), "--config", "builder-config.yaml"],
        check=True,
        cwd=work,
        env=env,
    )
    (work / "otelcol" / "otelcol-perf").rename(BINARY)
    return BINARY


def bodies(spans: int, count: int) -> dict[str, list[bytes]]:
    requests = [click_request(n, spans) for n in range(count)]
    return {
        "protobuf": [r.SerializeToString() for r in requests],
        "json": [json.dumps(_hex_ids(json_format.MessageToDict(r))).encode() for r in requests],
    }


def _hex_ids(node: object) -> object:
    # MessageToDict writes bytes as base64; OTLP/JSON writes trace and span ids as hex.
    import base64

    if isinstance(node, dict):
        return {
            k: base64.b64decode(v).hex()
            if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str)
            else _hex_ids(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids(v) for v in node]
    return node


CONTENT_TYPE = {"protobuf": "application/x-protobuf", "json": "application/json"}


LOADGEN_SOURCE = Path(__file__).parent / "loadgen"
LOADGEN = CACHE / "loadgen"


def build_loadgen() -> Path:
    """A small Go HTTP load generator (standard library only): a Python client tops out
    near the collector's speed on this machine, and would measure itself."""
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(["go", "build", "-o", str(LOADGEN), "."], check=True, cwd=LOADGEN_SOURCE)
    return LOADGEN


def measure(url: str, payloads: list[bytes], encoding: str, args: argparse.Namespace) -> float:
    """spans/s of `url` for these bodies (after a warm-up), the load generator on the
    cores other than 0."""
    with tempfile.TemporaryDirectory(prefix="bodies-") as tmp:
        for i, payload in enumerate(payloads):
            (Path(tmp) / f"{i:04d}").write_bytes(payload)
        others = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)) if c != 0) or "0"

        def drive(requests: int) -> float:
            command = [
                "taskset", "-c", others, str(LOADGEN), "-url", f"{url}/v1/traces",
                "-bodies", tmp, "-content-type", CONTENT_TYPE[encoding], "-api-key", API_KEY,
                "-requests", str(requests), "-connections", str(args.connections),
            ]  # fmt: skip
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            return float(done.stdout.strip())

        drive(100)
        return args.requests * args.spans / drive(args.requests)


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited:\n{log.read_text()[-3000:]}")
        try:
            response = httpx.post(
                f"{url}/v1/traces",
                content=b"",
                headers={"content-type": "application/x-protobuf", "authorization": API_KEY},
            )
            if response.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready:\n{log.read_text()[-3000:]}")


def start_pinned(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            ["taskset", "-c", "0", *command], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


async def create_topics(bootstrap: str) -> None:
    settings = KafkaSettings(kafka_bootstrap=bootstrap)
    bus = create_bus("kafka", settings)
    await bus.start()
    await ensure_pipeline_topics(bus, settings)
    configs = {"max.message.bytes": str(8 * 1024 * 1024)}
    await bus.ensure_topics([TopicSpec(COLLECTOR_TOPIC, 3, 1, configs)])
    await bus.stop()


def run(args: argparse.Namespace, bootstrap: str, workdir: Path) -> None:
    asyncio.run(create_topics(bootstrap))
    binary = build_collector()
    build_loadgen()
    payloads = bodies(args.spans, 64)
    encodings = args.encodings.split(",")
    results: dict[str, dict[str, float]] = {}

    port = free_port()
    config = workdir / "otelcol.yaml"
    config.write_text(CONFIG.format(port=port, bootstrap=bootstrap, topic=COLLECTOR_TOPIC))
    env = {**os.environ, "GOMAXPROCS": "1"}
    collector = start_pinned([str(binary), "--config", str(config)], env, workdir / "otelcol.log")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, collector, workdir / "otelcol.log")
        for encoding in encodings:
            results.setdefault(encoding, {})["collector"] = measure(
                url, payloads[encoding], encoding, args
            )
    finally:
        stop(collector)

    port = free_port()
    env = {
        **os.environ,
        "EXOS_KAFKA_BOOTSTRAP": bootstrap,
        "EXOS_INGEST_API_KEYS": API_KEY,
        "EXOS_LOG_LEVEL": "WARNING",
        # As many requests in flight as the collector takes (it has no such limit).
        "EXOS_INGEST_MAX_CONCURRENT_REQUESTS": str(args.connections),
    }
    command = [args.ingest_python, "-m", "exos", "serve", "ingest", "--port", str(port)]
    ingest = start_pinned(command, env, workdir / "ingest.log")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, ingest, workdir / "ingest.log")
        for encoding in encodings:
            results[encoding]["ingest"] = measure(url, payloads[encoding], encoding, args)
    finally:
        stop(ingest)

    sizes = {e: len(payloads[e][0]) for e in encodings}
    print(
        f"{args.requests} requests x {args.spans} spans, {args.connections} connections "
        "(Go load generator), receivers on core 0 (taskset), "
        f"collector GOMAXPROCS=1, queue off\n"
    )
    print("| encoding | body bytes | EXOS ingest spans/s | collector spans/s | ratio |")
    print("|---|---:|---:|---:|---:|")
    for encoding in encodings:
        exos, otel = results[encoding]["ingest"], results[encoding]["collector"]
        print(
            f"| {encoding} | {sizes[encoding]:,} | {exos:,.0f} | {otel:,.0f} | {exos / otel:.2f}x |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--spans", type=int, default=100)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--encodings", default="protobuf,json")
    parser.add_argument(
        "--ingest-python",
        default=sys.executable,
        help="the interpreter that runs ingest (another checkout's venv: before/after)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-otelcol-") as tmp:
        workdir = Path(tmp)
        given = os.environ.get("EXOS_TEST_KAFKA_BOOTSTRAP")
        broker_dir = workdir / "kafka"
        broker = None if given else start_local_broker(broker_dir, free_port())
        try:
            bootstrap = given or broker.bootstrap  # type: ignore[union-attr]
            run(args, bootstrap, workdir)
        finally:
            if not given:
                stop_broker(broker_dir)


if __name__ == "__main__":
    main()
