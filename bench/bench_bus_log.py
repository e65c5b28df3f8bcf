"""The all-in-one bus's log: publish throughput per fsync policy, and recovery time.

Run: `uv run python bench/bench_bus_log.py [--calls 2000] [--recover-mb 100]`

Publish: `publish_many` calls of 5 records of 1 KiB each (an ingest request's shape), by
1 and by 16 concurrent publishers, on the memory-only bus (the baseline) and on a folder
with `EXOS_BUS_FSYNC` never / batch / always. Recovery: a folder holding `--recover-mb`
of records no group has committed, read back by `start()`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from exos_common.bus import OutgoingRecord
from exos_common.bus.memory import InProcessBus
from exos_common.topics import TopicSpec

RECORD = bytes(1024)
PER_CALL = 5


def request(i: int) -> list[OutgoingRecord]:
    return [OutgoingRecord("t", RECORD, f"s{(i + j) % 64}".encode()) for j in range(PER_CALL)]


async def publish_rate(directory: Path | None, fsync: str, calls: int, concurrency: int) -> float:
    bus = InProcessBus(directory=directory, fsync=fsync)  # type: ignore[arg-type]
    await bus.start()
    await bus.ensure_topics([TopicSpec("t", 4, 1, {})])
    remaining = iter(range(calls))

    async def publisher() -> None:
        for i in remaining:
            await bus.publish_many(request(i))

    started = time.perf_counter()
    await asyncio.gather(*(publisher() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    await bus.stop()
    return calls / seconds


async def recovery(megabytes: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder) / "bus"
        bus = InProcessBus(directory=directory, fsync="never")
        await bus.start()
        await bus.ensure_topics([TopicSpec("t", 4, 1, {})])
        await bus.consumer(["t"], "reader")  # never commits: everything stays needed
        for i in range(megabytes * 1024 // PER_CALL):
            await bus.publish_many(request(i))
        await bus.stop()
        again = InProcessBus(directory=directory)
        started = time.perf_counter()
        await again.start()
        seconds = time.perf_counter() - started
        records = sum(len(log.records) for log in again._topics["t"].partitions)
        await again.stop()
        return seconds, records


async def main(calls: int, recover_mb: int) -> None:
    print(f"publish_many of {PER_CALL} x 1 KiB, {calls} calls: calls/s (MiB/s)")
    for concurrency in (1, 16):
        for label, fsync, on_disk in (
            ("memory only", "never", False),
            ("fsync never", "never", True),
            ("fsync batch", "batch", True),
            ("fsync always", "always", True),
        ):
            with tempfile.TemporaryDirectory() as folder:
                directory = Path(folder) / "bus" if on_disk else None
                rate = await publish_rate(directory, fsync, calls, concurrency)
            mib = rate * PER_CALL * len(RECORD) / 2**20
            print(f"  {concurrency:>2} publishers  {label:<13} {rate:>9.0f} ({mib:.1f})")
    seconds, records = await recovery(recover_mb)
    print(f"recovery of {recover_mb} MiB ({records} records): {seconds:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--recover-mb", type=int, default=100)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.calls, arguments.recover_mb))
