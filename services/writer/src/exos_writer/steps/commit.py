"""Commit: the last step, only after the batch's rows are stored (or quarantined).
The metadata carries the partition's incarnation forward for the next owner."""

from __future__ import annotations

from exos_writer.batch import PartitionBatch
from exos_writer.steps.announce import Commit
from exos_writer.tokens import settled


class Committer:
    def __init__(self, commit: Commit) -> None:
        self._commit = commit

    async def commit(self, batch: PartitionBatch) -> None:
        assert batch.last is not None
        await self._commit({batch.tp: batch.last + 1}, {batch.tp: settled(batch.incarnation)})
