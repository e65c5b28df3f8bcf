"""Insert: one attempt per flush, with a timeout; a failure is classified.

- transient (ClickHouse down, busy, timing out): `RetryLater`, the batch is kept and
  retried with backoff;
- data (ClickHouse refuses values): bisect. The batch's records are split in halves,
  each inserted under its own token (the batch token + the half's offset range), down
  to single records; a single record with several rows is split by its payload's lines
  the same way (no row is parsed). What fails alone is quarantined; everything else
  lands.

A clean batch is one insert of its records' payloads, concatenated, as they are.

A writer killed mid-bisection re-forms the same batch (its intent pins the range),
fails the same way, splits it the same way, and ClickHouse drops the halves it already
stored (same tokens): each row lands once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from exos_common.table_payload import PAYLOAD_FORMAT, line_bounds
from exos_writer.batch import PartitionBatch
from exos_writer.errors import ErrorClass, classify
from exos_writer.metrics import WriterMetrics
from exos_writer.steps.quarantine import (
    WHOLE_RECORD,
    InsertPayload,
    Offender,
    Quarantine,
    RetryLater,
)
from exos_writer.tokens import records_token, rows_token

# An error we cannot place is retried like an outage this many times per batch, then
# taken for bad data if ClickHouse answers a ping: retrying it forever would stall the
# partition for good, and bisection at worst quarantines records that were fine (they
# stay in the quarantine table and on the dead-letter topic, to be replayed).
UNKNOWN_ERROR_RETRIES = 5


class Inserter:
    def __init__(
        self,
        insert: InsertPayload,
        quarantine: Quarantine,
        metrics: WriterMetrics,
        *,
        timeout_s: float,
        unknown_error_retries: int = UNKNOWN_ERROR_RETRIES,
        store_answers: Callable[[], bool] = lambda: True,
    ) -> None:
        self._insert = insert
        self._store_answers = store_answers
        self._quarantine = quarantine
        self._metrics = metrics
        self._timeout_s = timeout_s
        self._unknown_error_retries = unknown_error_retries

    async def insert(self, batch: PartitionBatch) -> None:
        """Store the batch's rows, or raise RetryLater."""
        await self._store_records(batch, 0, len(batch.records), batch.dedup_token)

    async def _store_records(
        self, batch: PartitionBatch, first: int, stop: int, token: str
    ) -> None:
        """Records [first, stop) of the batch, under `token`."""
        if batch.rows_of(first, stop) == 0:
            return  # dead-lettered records only
        failure = await self._attempt(batch, batch.body_of(first, stop), token)
        if failure is None:
            return
        if stop - first == 1:
            if batch.row_counts[first] == 1:
                await self._quarantine_row(batch, first, WHOLE_RECORD, failure)
            else:
                bounds = line_bounds(batch.bodies[first])
                await self._store_rows(batch, first, bounds, 0, len(bounds) - 1, failure)
            return
        middle = (first + stop) // 2
        for lo, hi in ((first, middle), (middle, stop)):
            half = records_token(
                batch.dedup_token, batch.records[lo].offset, batch.records[hi - 1].offset
            )
            self._metrics.bisection_inserts.labels(batch.sink.table).inc()
            await self._store_records(batch, lo, hi, half)

    async def _store_rows(
        self,
        batch: PartitionBatch,
        index: int,
        bounds: list[int],
        start: int,
        stop: int,
        failure: BaseException,
    ) -> None:
        """Rows [start, stop) of the record at `index` (numbered within the record, row
        i being body[bounds[i]:bounds[i + 1]]), which failed together with `failure`."""
        if stop - start == 1:
            await self._quarantine_row(batch, index, start, failure)
            return
        body = batch.bodies[index]
        offset = batch.records[index].offset
        middle = (start + stop) // 2
        for lo, hi in ((start, middle), (middle, stop)):
            token = rows_token(batch.dedup_token, offset, lo, hi - 1)
            self._metrics.bisection_inserts.labels(batch.sink.table).inc()
            half_failure = await self._attempt(batch, body[bounds[lo] : bounds[hi]], token)
            if half_failure is not None:
                await self._store_rows(batch, index, bounds, lo, hi, half_failure)

    async def _attempt(
        self, batch: PartitionBatch, body: bytes, token: str
    ) -> BaseException | None:
        """None when stored; the error when ClickHouse refused the data. Raises
        RetryLater for anything a retry can fix."""
        sink = batch.sink
        try:
            await asyncio.wait_for(
                asyncio.to_thread(
                    self._insert, sink.table, sink.columns, body, PAYLOAD_FORMAT, dedup_token=token
                ),
                self._timeout_s,
            )
        except Exception as exc:
            await self._judge(batch, exc)
            return exc
        return None

    async def _judge(self, batch: PartitionBatch, exc: Exception) -> None:
        error_class = classify(exc)
        self._metrics.insert_errors.labels(batch.sink.table, str(error_class)).inc()
        if error_class is ErrorClass.TRANSIENT:
            raise RetryLater(str(exc)) from exc
        if error_class is ErrorClass.UNKNOWN:
            batch.unknown_failures += 1
            if batch.unknown_failures <= self._unknown_error_retries:
                raise RetryLater(str(exc)) from exc
            # An outage with an unfamiliar face must not quarantine a whole batch: only
            # a ClickHouse that answers is taken to refuse the data.
            if not await asyncio.to_thread(self._store_answers):
                raise RetryLater(f"ClickHouse does not answer: {exc}") from exc

    async def _quarantine_row(
        self, batch: PartitionBatch, index: int, row_index: int, failure: BaseException
    ) -> None:
        record = batch.records[index]
        offender = Offender(batch.sink.table, batch.dedup_token, record, row_index, failure)
        await self._quarantine.put(offender)
