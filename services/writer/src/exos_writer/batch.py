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


@dataclass(slots=True)
class Entry:
    """One bus record and the rows it produced (none when it was dead-lettered): the
    unit of bisection."""

    record: BusRecord
    rows: list[list[Any]]


@dataclass
class PartitionBatch:
    tp: TopicPartition
    sink: TableSink
    incarnation: str
    log_epoch: str = ""
    state: BatchState = BatchState.OPEN
    entries: list[Entry] = field(default_factory=list)
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
        return self.entries[0].record.offset if self.entries else None

    @property
    def last(self) -> int | None:
        return self.entries[-1].record.offset if self.entries else None

    @property
    def has_records(self) -> bool:
        return bool(self.entries)

    @property
    def rows(self) -> int:
        return sum(len(entry.rows) for entry in self.entries)

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
        self.entries, self.size = [], BatchSize()
        self.oldest_timestamp_ms = self.pin_last = self.pin_incarnation = None
        self.retry_at, self.unknown_failures = 0.0, 0
        self.backoff.reset()
