"""Do long reads hold inserts back on the embedded engine (chDB, as `exos up` runs it)?

Run: `uv run python bench/bench_read_write_contention.py [--seconds 10] [--heavy]`

A writer inserts a small batch every 50 ms (as the writer service flushes) while a
reader runs one long query: `SELECT sleepEachRow(...)` for `--seconds` (a slow console
or Ask AI query that costs no CPU), or with `--heavy` an aggregation over billions of
numbers cut at `--seconds` by max_execution_time (one that does). Freshness of a batch =
acknowledged - ready, so it includes any wait for the engine. Side by side:

- idle: no long read (the floor);
- shared client: reads and inserts on one clickhouse-connect chDB client, as every
  service of `exos up` did before (the backend serialises calls on a client);
- store: the Store as it is now (one chDB handle per concurrent call).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from exos_common.settings import StoreSettings
from exos_common.store import Store, create_client, open_store

TABLE = "CREATE TABLE IF NOT EXISTS fresh (n UInt64, at Float64) ENGINE = MergeTree ORDER BY n"
BATCH_ROWS = 200
EVERY_S = 0.05


def long_read(seconds: float, heavy: bool) -> str:
    if heavy:
        return (
            "SELECT uniqExact(number % 100000000) FROM numbers(100000000000) "
            f"SETTINGS max_execution_time = {seconds}, timeout_overflow_mode = 'break'"
        )
    rows = int(seconds / 0.5)
    return f"SELECT sleepEachRow(0.5) FROM numbers({rows}) SETTINGS max_block_size = 1"


def write_for(store: Store, seconds: float, first: int) -> list[float]:
    """Insert a batch every EVERY_S for `seconds`; the freshness of each, in seconds."""
    freshness = []
    deadline = time.monotonic() + seconds
    n = first
    next_at = time.monotonic()
    while time.monotonic() < deadline:
        ready = time.monotonic()
        rows = [[n + i, time.time()] for i in range(BATCH_ROWS)]
        store.insert("fresh", rows, ["n", "at"])
        freshness.append(time.monotonic() - ready)
        n += BATCH_ROWS
        next_at = max(next_at + EVERY_S, time.monotonic())
        time.sleep(max(0.0, next_at - time.monotonic()))
    return freshness


def run(store: Store, read: str | None, seconds: float, first: int) -> tuple[list[float], float]:
    read_s = 0.0
    reader = None
    if read is not None:

        def read_once() -> None:
            nonlocal read_s
            began = time.monotonic()
            store.query(read)
            read_s = time.monotonic() - began

        reader = threading.Thread(target=read_once)
        reader.start()
        time.sleep(0.3)  # the read is under way before the first insert
    freshness = write_for(store, seconds, first)
    if reader is not None:
        reader.join()
    return freshness, read_s


def summary(name: str, freshness: list[float], read_s: float) -> str:
    ordered = sorted(freshness)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    p50 = statistics.median(ordered)
    return (
        f"{name:<14} batches {len(ordered):>4}  freshness p50 {p50 * 1000:8.1f} ms"
        f"  p99 {p99 * 1000:8.1f} ms  max {ordered[-1] * 1000:8.1f} ms"
        + (f"  (long read took {read_s:.1f} s)" if read_s else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--heavy", action="store_true", help="a CPU-heavy read, not a sleep")
    args = parser.parse_args()
    read = long_read(args.seconds, args.heavy)
    with tempfile.TemporaryDirectory() as folder:
        settings = StoreSettings(clickhouse_url=f"chdb://{Path(folder)}")
        store = open_store(settings)
        store.command(TABLE)
        store.insert("fresh", [[0, time.time()]], ["n", "at"])  # warm-up: imports, parts
        shared = Store(create_client(settings, settings.clickhouse_database))
        print(f"long read: {read}")
        print(summary("idle", *run(store, None, args.seconds, 1_000_000)))
        print(summary("shared client", *run(shared, read, args.seconds, 2_000_000)))
        print(summary("store", *run(store, read, args.seconds, 3_000_000)))
        shared.close()
        store.close()


if __name__ == "__main__":
    main()
