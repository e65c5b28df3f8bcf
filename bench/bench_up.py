"""`exos up --demo` budget: seconds until the default demo is loaded and queryable, and
the process's peak RSS, side by side with `exos up` without data as the baseline.

Run: `uv run python bench/bench_up.py`   (budget: < 60 s and < 1.5 GB RSS)

Each run starts `exos up` on a fresh temporary data folder and free ports, polls the
ClickHouse HTTP port until the row counts stop growing after the loader's "demo loaded"
line (or, for the baseline, until /readyz answers), samples VmRSS every 0.2 s, then
stops it with SIGINT.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from exos_common.localkafka import free_port

TABLES = ("otel_traces", "otel_logs", "hyperdx_sessions")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def counts(clickhouse: str) -> tuple[int, ...]:
    return tuple(
        int(httpx.get(clickhouse, params={"query": f"SELECT count() FROM {t}"}).text)
        for t in TABLES
    )


def run(demo: bool) -> tuple[float, float, tuple[int, ...]]:
    ports = [free_port() for _ in range(3)]
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "up.log"
        command = [
            sys.executable,
            "-m",
            "exos",
            "up",
            "--data",
            f"{folder}/data",
            "--port",
            str(ports[0]),
            "--otlp-port",
            str(ports[1]),
            "--clickhouse-port",
            str(ports[2]),
        ]
        started = time.monotonic()
        with log.open("wb") as out:
            process = subprocess.Popen(
                command + (["--demo"] if demo else []), stdout=out, stderr=subprocess.STDOUT
            )
        peak, clickhouse, last, done_at = 0.0, f"http://127.0.0.1:{ports[2]}", (), None
        try:
            while time.monotonic() - started < 300:
                peak = max(peak, rss_mb(process.pid))
                try:
                    ready = httpx.get(f"http://127.0.0.1:{ports[0]}/readyz").status_code == 200
                except httpx.HTTPError:
                    ready = False
                if ready and not demo:
                    done_at = time.monotonic()
                    break
                if ready and "demo loaded" in log.read_text(errors="replace"):
                    now = counts(clickhouse)
                    if now == last:  # the writer has caught up
                        done_at = time.monotonic()
                        break
                    last = now
                time.sleep(0.2)
            final = counts(clickhouse)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(120)
        if done_at is None:
            raise TimeoutError(log.read_text()[-2000:])
        return done_at - started, peak, final


def main() -> None:
    baseline = run(demo=False)
    demo = run(demo=True)
    print(f"{'run':28} {'ready s':>8} {'peak RSS MB':>12}  rows (traces, logs, sessions)")
    print(f"{'exos up (empty, baseline)':28} {baseline[0]:8.1f} {baseline[1]:12.0f}  {baseline[2]}")
    print(f"{'exos up --demo':28} {demo[0]:8.1f} {demo[1]:12.0f}  {demo[2]}")


if __name__ == "__main__":
    main()
