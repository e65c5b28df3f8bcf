"""Announce: before the insert, the batch's range goes into the partition's commit
metadata (committed at the batch's first offset, so nothing is skipped). A writer that
dies after the insert leaves it behind, and the next owner re-forms exactly that batch
with exactly its token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from exos_common.bus import TopicPartition
from exos_writer.batch import BatchState, PartitionBatch
from exos_writer.tokens import intent

Commit = Callable[
    [Mapping[TopicPartition, int], Mapping[TopicPartition, str] | None], Awaitable[None]
]


class Announcer:
    def __init__(self, commit: Commit) -> None:
        self._commit = commit

    async def announce(self, batch: PartitionBatch) -> None:
        assert batch.state is BatchState.DUE and batch.first is not None
        assert batch.last is not None
        if batch.pin_last is None:  # a pinned batch was announced by its previous owner
            metadata = intent(batch.token_incarnation, batch.first, batch.last)
            await self._commit({batch.tp: batch.first}, {batch.tp: metadata})
        batch.state = BatchState.ANNOUNCED
