"""The in-process bus keeps only what some group still has to process."""

from __future__ import annotations

from exos_common.bus import OutgoingRecord, TopicPartition
from exos_common.bus.memory import InProcessBus
from exos_common.topics import TopicSpec


async def test_records_every_reader_committed_are_released_offsets_stay() -> None:
    bus = InProcessBus()
    await bus.ensure_topics([TopicSpec("t", 1, 1, {}), TopicSpec("changelog", 1, 1, {})])
    await bus.publish_many([OutgoingRecord("t", str(i).encode(), b"k") for i in range(10)])
    await bus.publish_many([OutgoingRecord("changelog", b"s", b"k") for _ in range(3)])
    tp = TopicPartition("t", 0)
    fast = await bus.consumer(["t"], "fast")
    slow = await bus.consumer(["t"], "slow")
    await fast.fetch(100, 0.1)
    await fast.commit({tp: 10})
    assert len(bus._log(tp).records) == 10  # "slow" still needs them all
    await slow.fetch(100, 0.1)
    await slow.commit({tp: 6})
    assert (bus._log(tp).base, len(bus._log(tp).records)) == (6, 4)
    delivery = await bus.publish("t", b"10", key=b"k")
    assert delivery.offset == 10  # offsets keep counting after a release
    assert await slow.lag() == {tp: 5}
    await slow.close()
    again = await bus.consumer(["t"], "slow")
    assert [r.value for r in await again.fetch(100, 0.1)] == [b"6", b"7", b"8", b"9", b"10"]
    # No group reads the changelog: it keeps everything for read_partition.
    kept = [r async for batch in bus.read_partition("changelog", 0) for r in batch]
    assert len(kept) == 3
    await bus.stop()
