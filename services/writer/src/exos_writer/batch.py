"""One partition's batch: its records with the payloads they carry, and where it stands.

The state replaces a handful of flags: a batch is OPEN while it takes records, DUE once
a bound is reached (new records then wait in the backlog), ANNOUNCED once its range is
in the commit metadata, BACKING_OFF after a transient failure (partition paused until
`retry_at`). After the commit it is reset to OPEN and the backlog replayed into it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from exos_common.bus import BusRecord, TopicPartition
from exos_common.stream.backoff import Backoff
from exos_common.stream.bounds import BatchSize
from exos_common.stream.loop import Decoded
from exos_common.table_payload import TablePayload
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
    # The bus records (the unit of bisection) and the payload each carries: rows already
    # in the table's input format, inserted as they are (b"" and 0 rows for a record
    # that was dead-lettered).
    records: list[BusRecord] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    row_counts: list[int] = field(default_factory=list)
    row_count: int = 0
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

    def add(self, record: BusRecord, payload: TablePayload | None) -> None:
        self.records.append(record)
        self.bodies.append(payload.body if payload is not None else b"")
        rows = payload.row_count if payload is not None else 0
        self.row_counts.append(rows)
        self.row_count += rows

    def rows_of(self, first_record: int, stop_record: int) -> int:
        return sum(self.row_counts[first_record:stop_record])

    def body_of(self, first_record: int, stop_record: int) -> bytes:
        """The payloads of records [first_record, stop_record), one after the other."""
        if first_record == 0 and stop_record >= len(self.records):
            return b"".join(self.bodies)
        return b"".join(self.bodies[first_record:stop_record])

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
        self.records, self.bodies, self.row_counts, self.size = [], [], [], BatchSize()
        self.row_count = 0
        self.oldest_timestamp_ms = self.pin_last = self.pin_incarnation = None
        self.retry_at, self.unknown_failures = 0.0, 0
        self.backoff.reset()
