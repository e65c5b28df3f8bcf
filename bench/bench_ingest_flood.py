"""Ingest under a flood of the largest requests it accepts: does /healthz still answer?

Run: `uv run python bench/bench_ingest_flood.py [--seconds 5] [--senders 8]
     [--spans 10000] [--attributes 40] [--python PATH] [--env EXOS_X=Y ...]`

One ingest app (on a bus that acknowledges and forgets, so the bus is not measured)
is served by uvicorn in its own process, as `exos serve ingest` would; `--senders`
clients post the same gzip protobuf export of `--spans` spans with `--attributes`
integer attributes each (the most Python work per decoded byte) as fast as ingest
answers, while one client polls `/healthz` every 20 ms. Reports the health latency
(p50/p99/max), export answers by status, export latency, the server's CPU and peak RSS.

`--python` runs the server with another checkout's interpreter (e.g. the main
checkout's `.venv/bin/python`) for a side-by-side baseline. Everything shares this
machine's cores; the load generator runs here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "services" / "ingest" / "tests"))

from flood import flood, heavy_traces  # noqa: E402

from exos_common.localkafka import free_port  # noqa: E402
from exos_common.testing.processes import CpuMeter, RssSampler  # noqa: E402

API_KEY = "bench-key"
# The server: the ingest app on a bus that drops what it acknowledges.
SERVER = """
import os, sys, uvicorn
if os.environ.get("BENCH_SWITCH_INTERVAL_S"):
    sys.setswitchinterval(float(os.environ["BENCH_SWITCH_INTERVAL_S"]))
from contextlib import asynccontextmanager
from exos_common.bus.memory import InProcessBus
from exos_common.topics import pipeline_topic_specs
from exos_ingest.app import create_app

class DiscardingBus(InProcessBus):
    async def publish_many(self, records):
        return []

bus = DiscardingBus()
app = create_app(bus=bus)
inner = app.router.lifespan_context

@asynccontextmanager
async def lifespan(a):
    await bus.ensure_topics(pipeline_topic_specs(1, 1, 8 * 1024 * 1024))
    async with inner(a):
        yield

app.router.lifespan_context = lifespan
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def start_server(python: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    full_env = {**os.environ, "EXOS_INGEST_API_KEYS": API_KEY, "EXOS_LOG_LEVEL": "WARNING", **env}
    process = subprocess.Popen(
        [python, "-c", SERVER, str(port)],
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("ingest did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--spans", type=int, default=10_000)
    parser.add_argument("--attributes", type=int, default=40)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--env", action="append", default=[], help="EXOS_X=Y for the server")
    args = parser.parse_args()

    body = heavy_traces(args.spans, args.attributes, time.time_ns())
    headers = {
        "content-type": "application/x-protobuf",
        "content-encoding": "gzip",
        "authorization": API_KEY,
    }
    env = dict(item.split("=", 1) for item in args.env)
    port = free_port()
    server = start_server(args.python, port, env)
    try:
        rss = RssSampler({"ingest": server.pid}, every_s=0.2)
        rss.start()
        meter = CpuMeter({"ingest": server.pid}).start()
        result = asyncio.run(
            flood(
                f"http://127.0.0.1:{port}",
                body,
                headers,
                senders=args.senders,
                seconds=args.seconds,
            )
        )
        cores, machine = meter.stop()
        rss.stop()
    finally:
        server.terminate()
        server.wait(10)

    exports = sorted(result.export_s)
    print(f"server: {args.python}  env: {env or '-'}")
    print(
        f"request: {args.spans} spans x {args.attributes} attributes, {len(body)} bytes gzip; "
        f"{args.senders} senders for {args.seconds:.0f} s"
    )
    p50, p99 = result.health_quantile(0.5) * 1000, result.health_quantile(0.99) * 1000
    slowest = max(result.health_s) * 1000
    print(
        f"/healthz: {len(result.health_s)} answers, p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"max {slowest:.1f} ms"
    )
    print(
        f"exports: {dict(result.statuses)}, latency p50 {exports[len(exports) // 2]:.2f} s, "
        f"max {exports[-1]:.2f} s"
    )
    print(
        f"ingest cpu {cores['ingest']:.2f} cores (machine {machine:.2f}), "
        f"peak rss {rss.peak.get('ingest', 0) / 2**20:.0f} MiB"
    )


if __name__ == "__main__":
    main()
