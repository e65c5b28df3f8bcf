"""The writer across rebalances and refused commits, driven step by step with fakes: what
it held before is never inserted under an assignment it no longer has, a batch whose
intent was refused is never inserted, and a partition it gets (again) starts from the
group's commit."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping

import pytest
from prometheus_client import CollectorRegistry
from writer_testkit import DeadLetters, FakeClock, FakeCommits, FakeTable

from exos_common.bus import BusRecord, MembershipLost, TopicPartition
from exos_common.codec import encode
from exos_common.messages import SpanRecord
from exos_common.stream.bounds import BatchBounds
from exos_common.stream.loop import Decoded
from exos_common.stream.metrics import ConsumerMetrics
from exos_common.topics import Topic
from exos_writer.handler import WriterHandler
from exos_writer.tokens import settled

SPANS = str(Topic.SPANS_ENRICHED)
TP0, TP1 = TopicPartition(SPANS, 0), TopicPartition(SPANS, 1)
NOW_NS = time.time_ns()


class GroupCommits(FakeCommits):
    """The group's commits; while `refusing`, a commit is refused as for a member the
    group expelled."""

    def __init__(self) -> None:
        super().__init__()
        self.refusing = False

    async def commit(
        self,
        offsets: Mapping[TopicPartition, int],
        metadata: Mapping[TopicPartition, str] | None = None,
    ) -> None:
        if self.refusing:
            raise MembershipLost("expelled")
        await super().commit(offsets, metadata)


class FakeConsumer:
    def __init__(self, commits: GroupCommits) -> None:
        self.commit = commits.commit
        self.committed = commits.committed
        self.committed_metadata = commits.committed_metadata

    def pause(self, partitions: Collection[TopicPartition]) -> None:
        return None

    def resume(self, partitions: Collection[TopicPartition]) -> None:
        return None


class Table(FakeTable):
    def ping(self) -> bool:
        return True

    def stored(self) -> list[str]:
        """ "partition:first-last" of each stored batch (tokens end with it)."""
        return [":".join(token.rsplit(":", 2)[-2:]) for token in self.tokens]


def decoded(tp: TopicPartition, offset: int) -> Decoded:
    span = SpanRecord("s1", NOW_NS + offset, f"{offset:032x}", f"{offset:016x}", "click", "p")
    value, headers = encode(span)
    record = BusRecord(tp.topic, tp.partition, offset, b"s1", value, headers, 0)
    return Decoded(record, span)


def writer(commits: GroupCommits, table: Table, rows: int = 3) -> WriterHandler:
    return WriterHandler(
        FakeConsumer(commits),  # type: ignore[arg-type]
        table,  # type: ignore[arg-type]
        BatchBounds(rows, 1 << 30, 3600.0),
        ConsumerMetrics(CollectorRegistry()),
        DeadLetters().send,
        clock=FakeClock(),
    )


@pytest.fixture
def table() -> Table:
    return Table()


async def test_a_batch_whose_intent_is_refused_is_dropped_never_inserted(table: Table) -> None:
    commits = GroupCommits()
    handler = writer(commits, table)
    await handler.handle([decoded(TP0, offset) for offset in (0, 1, 2)])
    commits.refusing = True
    with pytest.raises(MembershipLost):
        await handler.tick()
    assert table.attempts == []
    # Meanwhile the partition's new owner stored 0-1; this writer gets it back from 2.
    commits.refusing = False
    await commits.commit({TP0: 2}, {TP0: settled("other")})
    await handler.partitions_assigned({TP0})
    await handler.handle([decoded(TP0, offset) for offset in (2, 3, 4)])
    await handler.tick()
    assert table.stored() == ["0:2-4"]
    assert len(table.rows["otel_traces"]) == 3
    assert commits.offsets[TP0] == 5


async def test_a_revoke_whose_commits_are_refused_drops_every_partition(table: Table) -> None:
    commits = GroupCommits()
    handler = writer(commits, table, rows=10)
    await handler.handle([decoded(TP0, 0), decoded(TP0, 1), decoded(TP1, 0), decoded(TP1, 1)])
    commits.refusing = True  # expelled while frozen: the rejoin revokes everything
    await handler.partitions_revoked({TP0, TP1})
    assert table.attempts == []
    # The other member stored and committed both partitions' records meanwhile; this
    # one gets partition 1 back and reads on from the group's commit.
    commits.refusing = False
    await commits.commit({TP0: 2, TP1: 2}, {TP0: settled("other"), TP1: settled("other")})
    await handler.partitions_assigned({TP1})
    await handler.handle([decoded(TP1, offset) for offset in (2, 3)])
    await handler.drain()
    assert table.stored() == ["1:2-3"]
    assert commits.offsets == {TP0: 2, TP1: 4}


async def test_held_records_are_dropped_when_the_partition_is_assigned_again(
    table: Table,
) -> None:
    commits = GroupCommits()
    await commits.commit({TP0: 0}, {TP0: settled("inc")})
    handler = writer(commits, table, rows=10)
    await handler.handle([decoded(TP0, offset) for offset in (0, 1, 2)])
    # A rebalance this writer's revoke never saw through; the group's commit moved to 2.
    await commits.commit({TP0: 2}, {TP0: settled("inc")})
    await handler.partitions_assigned({TP0})
    await handler.handle([decoded(TP0, offset) for offset in (2, 3)])
    await handler.drain()
    assert table.stored() == ["0:2-3"]


async def test_records_below_the_group_commit_are_not_taken_again(table: Table) -> None:
    commits = GroupCommits()
    await commits.commit({TP0: 5}, {TP0: settled("inc")})
    handler = writer(commits, table, rows=10)
    # A stale fetch (3, 4) and the same offsets delivered twice (5).
    await handler.handle([decoded(TP0, offset) for offset in (3, 4, 5, 5, 6)])
    await handler.drain()
    assert table.stored() == ["0:5-6"]
    assert len(table.rows["otel_traces"]) == 2
    assert commits.offsets[TP0] == 7


async def test_a_topic_recreated_under_the_writer_starts_anew_when_its_commits_are_gone(
    table: Table,
) -> None:
    commits = GroupCommits()
    await commits.commit({TP0: 10}, {TP0: settled("old")})
    handler = writer(commits, table, rows=10)
    await handler.handle([decoded(TP0, offset) for offset in (10, 11)])
    # The topic is deleted (its commits go with it) and recreated; the consumer, not yet
    # told, falls back to the new topic's first offsets.
    del commits.offsets[TP0], commits.metadata[TP0]
    await handler.handle([decoded(TP0, offset) for offset in (0, 1, 2)])
    await handler.drain()
    [token] = table.tokens
    assert token.endswith(":0:0-2") and ":old:" not in token  # a new incarnation
    assert len(table.rows["otel_traces"]) == 3
    assert commits.offsets[TP0] == 3
