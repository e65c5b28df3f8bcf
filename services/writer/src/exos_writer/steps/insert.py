"""Insert: one attempt per flush, with a timeout; a failure is classified.

- transient (ClickHouse down, busy, timing out): `RetryLater`, the batch is kept and
  retried with backoff;
- data (ClickHouse refuses values): bisect. The batch's records are split in halves,
  each inserted under its own token (the batch token + the half's offset range), down
  to single records; a single record with several rows is split by rows the same way.
  What fails alone is quarantined; everything else lands.

A writer killed mid-bisection re-forms the same batch (its intent pins the range),
fails the same way, splits it the same way, and ClickHouse drops the halves it already
stored (same tokens): each row lands once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from exos_writer.batch import Entry, PartitionBatch
from exos_writer.errors import ErrorClass, classify
from exos_writer.metrics import WriterMetrics
from exos_writer.steps.quarantine import (
    WHOLE_RECORD,
    InsertRows,
    Offender,
    Quarantine,
    RetryLater,
)
from exos_writer.tokens import records_token, rows_token

# An error we cannot place is retried like an outage this many times per batch, then
# taken for bad data: retrying it forever would stall the partition for good, and
# bisection at worst quarantines records that were fine (they stay in the quarantine
# table and on the dead-letter topic, to be replayed).
UNKNOWN_ERROR_RETRIES = 5


class Inserter:
    def __init__(
        self,
        insert: InsertRows,
        quarantine: Quarantine,
        metrics: WriterMetrics,
        *,
        timeout_s: float,
        unknown_error_retries: int = UNKNOWN_ERROR_RETRIES,
    ) -> None:
        self._insert = insert
        self._quarantine = quarantine
        self._metrics = metrics
        self._timeout_s = timeout_s
        self._unknown_error_retries = unknown_error_retries

    async def insert(self, batch: PartitionBatch) -> None:
        """Store the batch's rows, or raise RetryLater."""
        entries = [entry for entry in batch.entries if entry.rows]
        if entries:
            await self._store_records(batch, entries, batch.dedup_token)

    async def _store_records(self, batch: PartitionBatch, entries: list[Entry], token: str) -> None:
        rows = [row for entry in entries for row in entry.rows]
        failure = await self._attempt(batch, rows, token)
        if failure is None:
            return
        if len(entries) == 1:
            entry = entries[0]
            if len(entry.rows) == 1:
                await self._quarantine_row(batch, entry, WHOLE_RECORD, failure)
            else:
                await self._store_rows(batch, entry, 0, len(entry.rows), failure)
            return
        middle = len(entries) // 2
        for half in (entries[:middle], entries[middle:]):
            first, last = half[0].record.offset, half[-1].record.offset
            self._metrics.bisection_inserts.labels(batch.sink.table).inc()
            await self._store_records(batch, half, records_token(batch.dedup_token, first, last))

    async def _store_rows(
        self, batch: PartitionBatch, entry: Entry, start: int, stop: int, failure: BaseException
    ) -> None:
        """Rows [start, stop) of one record, which failed together with `failure`."""
        if stop - start == 1:
            await self._quarantine_row(batch, entry, start, failure)
            return
        middle = (start + stop) // 2
        for lo, hi in ((start, middle), (middle, stop)):
            token = rows_token(batch.dedup_token, entry.record.offset, lo, hi - 1)
            self._metrics.bisection_inserts.labels(batch.sink.table).inc()
            half_failure = await self._attempt(batch, entry.rows[lo:hi], token)
            if half_failure is not None:
                await self._store_rows(batch, entry, lo, hi, half_failure)

    async def _attempt(
        self, batch: PartitionBatch, rows: list[list[Any]], token: str
    ) -> BaseException | None:
        """None when stored; the error when ClickHouse refused the data. Raises
        RetryLater for anything a retry can fix."""
        try:
            await asyncio.wait_for(
                asyncio.to_thread(
                    self._insert, batch.sink.table, rows, batch.sink.columns, dedup_token=token
                ),
                self._timeout_s,
            )
        except Exception as exc:
            self._judge(batch, exc)
            return exc
        return None

    def _judge(self, batch: PartitionBatch, exc: Exception) -> None:
        error_class = classify(exc)
        self._metrics.insert_errors.labels(batch.sink.table, str(error_class)).inc()
        if error_class is ErrorClass.TRANSIENT:
            raise RetryLater(str(exc)) from exc
        if error_class is ErrorClass.UNKNOWN:
            batch.unknown_failures += 1
            if batch.unknown_failures <= self._unknown_error_retries:
                raise RetryLater(str(exc)) from exc

    async def _quarantine_row(
        self, batch: PartitionBatch, entry: Entry, row_index: int, failure: BaseException
    ) -> None:
        offender = Offender(batch.sink.table, batch.dedup_token, entry.record, row_index, failure)
        await self._quarantine.put(offender)
