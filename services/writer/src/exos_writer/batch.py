"""One partition's batch: its records with the rows they produced, and where it stands.

The state replaces a handful of flags: a batch is OPEN while it takes records, DUE once
a bound is reached (new records then wait in the backlog), ANNOUNCED once its range is
in the commit metadata, BACKING_OFF after a transient failure (partition paused until
`retry_at`). After the commit it is reset to OPEN and the backlog replayed into it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from exos_common.bus import BusRecord, TopicPartition
from exos_common.stream.backoff import Backoff
from exos_common.stream.bounds import BatchSize
from exos_common.stream.loop import Decoded
from exos_writer.sinks import TableSink
from exos_writer.tokens import batch_token


class BatchState(Enum):
    OPEN = "open"
    DUE = "due"
    ANNOUNCED = "announced"
    BACKING_OFF = "backing_off"


@dataclass
class PartitionBatch:
    tp: TopicPartition
    sink: TableSink
    incarnation: str
    log_epoch: str = ""
    state: BatchState = BatchState.OPEN
    # The bus records (the unit of bisection) and, flat, the rows they produced: the
    # rows of records[i] are rows[row_starts[i]:row_starts[i + 1]] (none when it was
    # dead-lettered). Flat, so a clean batch is inserted without copying its rows.
    records: list[BusRecord] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    row_starts: list[int] = field(default_factory=list)
    size: BatchSize = field(default_factory=BatchSize)
    oldest_timestamp_ms: int | None = None
    # The range a previous owner announced: the batch is re-formed exactly, under the
    # incarnation that owner named (it may be "" for an intent older than incarnations).
    pin_last: int | None = None
    pin_incarnation: str | None = None
    backlog: list[Decoded] = field(default_factory=list)
    backoff: Backoff = field(default_factory=Backoff)
    retry_at: float = 0.0
    paused_since: float | None = None
    unknown_failures: int = 0

    @property
    def first(self) -> int | None:
        return self.records[0].offset if self.records else None

    @property
    def last(self) -> int | None:
        return self.records[-1].offset if self.records else None

    @property
    def has_records(self) -> bool:
        return bool(self.records)

    def add(self, record: BusRecord, rows: list[list[Any]]) -> None:
        self.records.append(record)
        self.row_starts.append(len(self.rows))
        self.rows.extend(rows)

    def row_range(self, first_record: int, stop_record: int) -> tuple[int, int]:
        """The rows [start, stop) of records [first_record, stop_record)."""
        stop = len(self.rows) if stop_record >= len(self.records) else self.row_starts[stop_record]
        return self.row_starts[first_record], stop

    @property
    def token_incarnation(self) -> str:
        return self.incarnation if self.pin_incarnation is None else self.pin_incarnation

    @property
    def dedup_token(self) -> str:
        assert self.first is not None and self.last is not None
        identity = ":".join(p for p in (self.log_epoch, self.token_incarnation) if p)
        return batch_token(self.sink.table, identity, self.tp, self.first, self.last)

    def reset(self) -> None:
        self.state = BatchState.OPEN
        self.records, self.rows, self.row_starts, self.size = [], [], [], BatchSize()
        self.oldest_timestamp_ms = self.pin_last = self.pin_incarnation = None
        self.retry_at, self.unknown_failures = 0.0, 0
        self.backoff.reset()
