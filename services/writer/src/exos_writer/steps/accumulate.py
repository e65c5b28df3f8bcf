"""Accumulate: records (their payloads, as they came) join their partition's batch
until a bound (or a previous owner's announced range) says the batch is due; while it
is due, new records wait."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from exos_common.bus import BusRecord
from exos_common.stream.bounds import BatchBounds
from exos_common.stream.loop import Decoded
from exos_writer.batch import BatchState, PartitionBatch

Reject = Callable[[BusRecord, Exception], Awaitable[None]]


class Accumulator:
    def __init__(self, bounds: BatchBounds, reject: Reject, clock: Callable[[], float]) -> None:
        self._bounds = bounds
        self._reject = reject
        self._clock = clock

    async def add(self, batch: PartitionBatch, decoded: Decoded) -> None:
        if batch.state is not BatchState.OPEN:
            batch.backlog.append(decoded)
            return
        record = decoded.record
        payload = None
        if decoded.message is not None:
            try:
                payload = batch.sink.payload(decoded.message)
            except (TypeError, ValueError) as exc:  # wrong message type for the topic
                await self._reject(record, exc)
        batch.add(record, payload)
        if batch.oldest_timestamp_ms is None:
            batch.oldest_timestamp_ms = record.timestamp_ms
        # Rows bound the batch, not records; a dead-lettered record still counts one, so
        # a batch of only those ages out and is committed like any other.
        rows = payload.row_count if payload is not None else 1
        batch.size.add(len(record.value), self._clock(), rows)
        self.seal_if_due(batch)

    def seal_if_due(self, batch: PartitionBatch) -> None:
        if batch.state is BatchState.OPEN and batch.has_records and self._due(batch):
            batch.state = BatchState.DUE

    def _due(self, batch: PartitionBatch) -> bool:
        if batch.pin_last is not None:
            return batch.last is not None and batch.last >= batch.pin_last
        return batch.size.full(self._bounds, self._clock())

    @staticmethod
    def seal(batch: PartitionBatch) -> None:
        """Shutdown or revoke: whatever is held is due now (a pinned range excepted,
        which must be re-formed whole)."""
        if batch.state is BatchState.OPEN and batch.has_records and batch.pin_last is None:
            batch.state = BatchState.DUE
