"""The in-process bus with a folder: what it acknowledged survives a restart or a crash,
consumers resume at their commits, the bound turns publishers away, fsync as configured."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path

import pytest

from exos_common.bus import BusError, BusFull, BusUnavailable, OutgoingRecord, TopicPartition
from exos_common.bus.durable_log import BusLog, LogWrite
from exos_common.bus.memory import InProcessBus
from exos_common.bus.port import BusRecord
from exos_common.bus.segment_log import segment_name
from exos_common.topics import TopicSpec

T0 = TopicPartition("t", 0)


async def opened(directory: Path, **options: object) -> InProcessBus:
    bus = InProcessBus(directory=directory, **options)  # type: ignore[arg-type]
    await bus.start()
    await bus.ensure_topics([TopicSpec("t", 1, 1, {}), TopicSpec("out", 1, 1, {})])
    return bus


def values(n: int, start: int = 0) -> list[OutgoingRecord]:
    return [
        OutgoingRecord("t", f"v{i}".encode(), b"k", [("i", str(i).encode())])
        for i in range(start, start + n)
    ]


async def test_restart_redelivers_the_uncommitted_with_their_offsets(tmp_path: Path) -> None:
    bus = await opened(tmp_path)
    epoch = bus.log_epoch
    await bus.publish_many(values(10))
    consumer = await bus.consumer(["t"], "writer")
    assert len(await consumer.fetch(100, 0.1)) == 10
    await consumer.commit({T0: 4}, {T0: "intent:4-7"})
    await bus.stop()  # no drain: 4..9 are fetched but not committed

    again = await opened(tmp_path)
    assert again.log_epoch == epoch  # same log, same offsets: the writer's tokens still hold
    resumed = await again.consumer(["t"], "writer")
    assert await resumed.committed(T0) == 4
    assert await resumed.committed_metadata(T0) == "intent:4-7"
    redelivered = await resumed.fetch(100, 0.1)
    assert [(r.offset, r.value, r.key, r.headers) for r in redelivered] == [
        (i, f"v{i}".encode(), b"k", [("i", str(i).encode())]) for i in range(4, 10)
    ]
    assert (await again.publish("t", b"v10", key=b"k")).offset == 10
    await again.stop()


async def test_a_crash_without_stop_keeps_every_acknowledged_record(tmp_path: Path) -> None:
    crashed = await opened(tmp_path, fsync="never")
    await crashed.publish_many(values(3))
    consumer = await crashed.consumer(["t"], "writer")
    await consumer.fetch(100, 0.1)
    await consumer.commit({T0: 1})
    # Never stopped: no final write, no commit. Only the file handles close, as the
    # kernel closes them for a killed process; then the folder is opened again.
    assert crashed._disk is not None
    crashed._disk.close()
    again = await opened(tmp_path)
    resumed = await again.consumer(["t"], "writer")
    assert [r.offset for r in await resumed.fetch(100, 0.1)] == [1, 2]
    await again.stop()


async def test_a_new_folder_is_a_new_epoch(tmp_path: Path) -> None:
    first = await opened(tmp_path / "a")
    second = await opened(tmp_path / "b")
    assert len(first.log_epoch) == 12 and first.log_epoch != second.log_epoch
    await first.stop()
    await second.stop()


async def test_garbage_after_the_last_frame_is_cut_on_start(tmp_path: Path) -> None:
    bus = await opened(tmp_path)
    await bus.publish_many(values(2))
    await bus.stop()
    segment = tmp_path / "t-0" / segment_name(0)
    size = segment.stat().st_size
    with segment.open("ab") as handle:
        handle.write(b"\x00\x00\x01\x00torn")
    again = await opened(tmp_path)
    assert segment.stat().st_size == size
    assert (await again.publish("t", b"v2", key=b"k")).offset == 2
    reader = await again.consumer(["t"], "reader")
    assert [r.value for r in await reader.fetch(100, 0.1)] == [b"v0", b"v1", b"v2"]
    await again.stop()


async def test_a_transaction_without_its_durable_state_is_undone(tmp_path: Path) -> None:
    bus = await opened(tmp_path)
    await bus.publish_many(values(2))
    enrich = await bus.consumer(["t"], "enrich", transactional_id="enrich-0")
    await enrich.fetch(100, 0.1)
    await enrich.publish_and_commit([OutgoingRecord("out", b"o0", b"k")], {T0: 1})
    await bus.stop()
    # The records of transaction 2 reached the segment, its state write did not (crash).
    log = BusLog(tmp_path, "batch", 1 << 20)
    recovered = log.open()
    assert recovered.state.last_txn == 1
    late = BusRecord("out", 0, 1, b"k", b"o1", [], 0)
    log.write(LogWrite([(late, 2)], None, {}))
    log.close()

    again = await opened(tmp_path)
    reader = await again.consumer(["out"], "writer")
    assert [(r.offset, r.value) for r in await reader.fetch(100, 0.1)] == [(0, b"o0")]
    resumed = await again.consumer(["t"], "enrich", transactional_id="enrich-0")
    assert await resumed.committed(T0) == 1
    assert [r.value for r in await resumed.fetch(100, 0.1)] == [b"v1"]
    await resumed.publish_and_commit([OutgoingRecord("out", b"o1", b"k")], {T0: 2})
    assert [r.offset for r in await reader.fetch(100, 0.1)] == [1]
    await again.stop()


async def test_segments_every_group_committed_past_are_deleted(tmp_path: Path) -> None:
    # 1 KiB values (frames of 1063-1064 bytes) in 4 KiB segments: the fifth write to a
    # segment starts a new one, so segments hold offsets 0-3, 4-7, 8-11, 12-.
    bus = await opened(tmp_path, segment_bytes=4096)
    fast = await bus.consumer(["t"], "fast")
    slow = await bus.consumer(["t"], "slow")
    for i in range(12):
        await bus.publish("t", bytes(1024), key=str(i).encode())
    folder = tmp_path / "t-0"
    assert sorted(p.name for p in folder.iterdir()) == [segment_name(b) for b in (0, 4, 8)]
    await fast.fetch(100, 0.1)
    await fast.commit({T0: 12})
    await bus.publish("t", b"x", key=b"x")  # offset 12, in a new segment
    assert len(list(folder.iterdir())) == 4  # "slow" still needs them all
    await slow.fetch(100, 0.1)
    await slow.commit({T0: 9})
    await bus.publish("t", b"y", key=b"y")  # the next write deletes
    assert sorted(p.name for p in folder.iterdir()) == [segment_name(8), segment_name(12)]
    await bus.stop()
    again = await opened(tmp_path, segment_bytes=4096)
    resumed = await again.consumer(["t"], "slow")
    assert [r.offset for r in await resumed.fetch(100, 0.1)] == [9, 10, 11, 12, 13]
    await again.stop()


async def test_publishes_past_the_bound_raise_bus_full_until_a_commit(tmp_path: Path) -> None:
    bus = await opened(tmp_path, max_pending_bytes=100)
    consumer = await bus.consumer(["t"], "writer")
    record = OutgoingRecord("t", bytes(39), b"k")  # 40 bytes with its key
    await bus.publish_many([record, record])  # 80 of 100
    with pytest.raises(BusFull):
        await bus.publish_many([record])  # 120 > 100: nothing stored
    assert bus.pending_bytes == 80
    # Nobody reads "out": its records never count; publish_and_commit is never refused.
    await bus.publish_many([OutgoingRecord("out", bytes(500), b"k")])
    mover = await bus.consumer(["t"], "enrich", transactional_id="enrich-0")
    await mover.fetch(100, 0.1)
    await mover.publish_and_commit([OutgoingRecord("t", bytes(99), b"k")], {T0: 1})
    assert bus.pending_bytes == 180
    await consumer.fetch(100, 0.1)
    await consumer.commit({T0: 3})
    await mover.commit({T0: 3})
    assert bus.pending_bytes == 0
    assert (await bus.publish_many([record, record]))[1].offset == 4
    await bus.stop()


async def test_a_group_joining_after_a_release_reads_each_record_once() -> None:
    bus = InProcessBus()
    await bus.ensure_topics([TopicSpec("t", 1, 1, {})])
    first = await bus.consumer(["t"], "first")
    await bus.publish_many(values(5))
    await first.fetch(100, 0.1)
    await first.commit({T0: 3})
    late = await bus.consumer(["t"], "late")
    assert [r.offset for r in await late.fetch(100, 0.1)] == [3, 4]
    assert await late.fetch(100, 0.05) == []
    await bus.stop()


@pytest.mark.parametrize(("policy", "fsyncs"), [("batch", 1), ("always", 10), ("never", 0)])
async def test_fsync_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str, fsyncs: int
) -> None:
    bus = await opened(tmp_path, fsync=policy)
    calls: list[int] = []
    for name in ("fsync", "fdatasync"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda fd, real=real: (calls.append(fd), real(fd)))
    # Ten concurrent publishers of one record each, as ten ingest requests.
    await asyncio.gather(*(bus.publish("t", b"v", key=b"k") for _ in range(10)))
    assert len(calls) == fsyncs
    await bus.stop()


async def test_a_failed_disk_write_refuses_this_and_every_later_publish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus = await opened(tmp_path)
    reader = await bus.consumer(["t"], "reader")
    await bus.publish("t", b"v0", key=b"k")
    assert await bus.ping() is True

    def disk_full(write: LogWrite) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bus._disk, "write", disk_full)
    monkeypatch.setattr(bus._writes, "_write", disk_full)
    with pytest.raises(BusUnavailable, match="No space left"):
        await bus.publish("t", b"v1", key=b"k")
    with pytest.raises(BusUnavailable):
        await bus.publish("t", b"v2", key=b"k")
    assert [r.value for r in await reader.fetch(100, 0.1)] == [b"v0"]
    with pytest.raises(BusUnavailable):  # nor a commit: the folder's state is unknown
        await reader.commit({T0: 1})
    assert await bus.ping() is False  # readiness fails with it


async def test_a_bus_with_a_folder_refuses_writes_before_start_and_after_stop(
    tmp_path: Path,
) -> None:
    bus = InProcessBus(directory=tmp_path)
    await bus.ensure_topics([TopicSpec("t", 1, 1, {})])
    with pytest.raises(BusUnavailable, match="not open"):
        await bus.publish("t", b"v", key=b"k")
    await bus.start()
    assert (await bus.publish("t", b"v", key=b"k")).offset == 0
    await bus.stop()
    with pytest.raises(BusUnavailable, match="not open"):
        await bus.publish("t", b"v", key=b"k")


async def test_unread_topics_expire_by_their_retention_read_ones_never(tmp_path: Path) -> None:
    bus = InProcessBus(directory=tmp_path, segment_bytes=1)  # one record per segment
    await bus.start()
    hour = {"retention.ms": "3600000"}
    await bus.ensure_topics([TopicSpec("changelog", 1, 1, hour), TopicSpec("t", 1, 1, hour)])
    reader = await bus.consumer(["t"], "writer")
    for i in range(3):
        await bus.publish("changelog", f"s{i}".encode(), key=b"k")
        await bus.publish("t", f"v{i}".encode(), key=b"k")
    kept = [r async for batch in bus.read_partition("changelog", 0) for r in batch]
    newest = max(r.timestamp_ms for r in kept)

    bus.expire_unread(min(r.timestamp_ms for r in kept) + 3_600_000)  # none is older
    assert len([r async for batch in bus.read_partition("changelog", 0) for r in batch]) == 3
    bus.expire_unread(newest + 3_600_001)  # all three are older than an hour
    assert [r async for batch in bus.read_partition("changelog", 0) for r in batch] == []
    assert [r.value for r in await reader.fetch(100, 0.1)] == [b"v0", b"v1", b"v2"]
    assert (await bus.publish("changelog", b"s3", key=b"k")).offset == 3  # deletes too
    folder = tmp_path / "changelog-0"
    assert sorted(p.name for p in folder.iterdir()) == [segment_name(3)]
    await bus.stop()

    again = await opened(tmp_path)
    restored = [r async for batch in again.read_partition("changelog", 0) for r in batch]
    assert [(r.offset, r.value) for r in restored] == [(3, b"s3")]
    await again.stop()


async def test_a_second_bus_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    first = await opened(tmp_path)
    with pytest.raises(BusError, match="another process uses the bus folder"):
        await opened(tmp_path)
    await first.stop()
    second = await opened(tmp_path)  # free again once the first stopped
    await second.stop()
