"""The in-process bus's folder: one segment log per partition plus the group state.

    DIR/<topic>-<partition>/<base-offset>.log   records (see `segment_log`)
    DIR/state.json                              epoch, last durable transaction, and per
                                                group its topics, commits and metadata

`state.json` is replaced atomically (write, fsync, rename) after the records of the same
write are on disk, so a durable commit never points past durable records, and a
transaction's records count only once the state naming it is durable.

Fsync policy: `batch` and `always` fsync before a write is acknowledged (they differ in
how writes are grouped, see `group_commit`); `never` leaves it to the OS: a killed
process loses nothing, a power cut may.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

from exos_common.bus.errors import BusError
from exos_common.bus.port import BusRecord, TopicPartition
from exos_common.bus.segment_log import PartitionSegments, Recovered, encode_frame, fsync_dir
from exos_common.logs import get_logger

log = get_logger("exos.bus.log")

FsyncPolicy = Literal["always", "batch", "never"]
STATE_FILE = "state.json"
LOCK_FILE = "lock"


@dataclass
class GroupState:
    topics: set[str] = field(default_factory=set)
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    metadata: dict[TopicPartition, str] = field(default_factory=dict)


@dataclass
class BusState:
    """What `state.json` holds. `epoch` names this folder's incarnation of the logs."""

    epoch: str
    last_txn: int = 0
    groups: dict[str, GroupState] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "epoch": self.epoch,
                "last_txn": self.last_txn,
                "groups": {
                    name: {
                        "topics": sorted(group.topics),
                        "offsets": [
                            [tp.topic, tp.partition, offset, group.metadata.get(tp, "")]
                            for tp, offset in sorted(group.committed.items())
                        ],
                    }
                    for name, group in self.groups.items()
                },
            }
        )

    @classmethod
    def from_json(cls, text: str) -> BusState:
        raw = json.loads(text)
        groups = {}
        for name, group in raw["groups"].items():
            state = GroupState(topics=set(group["topics"]))
            for topic, partition, offset, metadata in group["offsets"]:
                tp = TopicPartition(topic, partition)
                state.committed[tp] = offset
                state.metadata[tp] = metadata
            groups[name] = state
        return cls(epoch=raw["epoch"], last_txn=raw["last_txn"], groups=groups)


@dataclass
class LogWrite:
    """Records to append (in offset order per partition), with the transaction they
    belong to (0: none), and the state to make durable after them (None: unchanged)."""

    records: list[tuple[BusRecord, int]]
    state: BusState | None
    release: dict[TopicPartition, int]  # delete segments wholly before these offsets


@dataclass
class RecoveredLog:
    state: BusState
    partitions: dict[TopicPartition, Recovered]
    seconds: float
    bytes_read: int


class BusLog:
    """The folder of a durable in-process bus. Its methods do blocking file I/O: call
    them from one thread at a time (the bus runs them in a worker thread)."""

    def __init__(self, directory: Path, fsync: FsyncPolicy, segment_bytes: int) -> None:
        self.directory = directory
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        self.partitions: dict[TopicPartition, PartitionSegments] = {}
        self._lock: TextIO | None = None

    @property
    def durable(self) -> bool:
        return self.fsync != "never"

    def open(self) -> RecoveredLog:
        """Read the folder back (or create it): state, then every partition's records
        from the oldest offset some reading group has not committed."""
        started = time.perf_counter()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        state_path = self.directory / STATE_FILE
        if state_path.exists():
            state = BusState.from_json(state_path.read_text())
        else:
            state = BusState(epoch=uuid.uuid4().hex[:12])
            self.write_state(state)
        found: dict[TopicPartition, Recovered] = {}
        bytes_read = 0
        for folder in sorted(p for p in self.directory.iterdir() if p.is_dir()):
            topic, _, number = folder.name.rpartition("-")
            tp = TopicPartition(topic, int(number))
            segments = PartitionSegments(folder, topic, tp.partition, self.segment_bytes)
            bytes_read += sum(p.stat().st_size for p in folder.iterdir())
            found[tp] = segments.recover(keep_from(state, tp), state.last_txn)
            self.partitions[tp] = segments
        for group in state.groups.values():  # a commit past a cut tail (fsync=never)
            for tp, offset in group.committed.items():
                if tp in found and offset > found[tp].end:
                    group.committed[tp] = found[tp].end
        seconds = time.perf_counter() - started
        log.info(
            "bus_log_recovered",
            directory=str(self.directory),
            partitions=len(found),
            records=sum(len(r.records) for r in found.values()),
            bytes_read=bytes_read,
            seconds=round(seconds, 3),
        )
        return RecoveredLog(state, found, seconds, bytes_read)

    def create_partition(self, tp: TopicPartition) -> None:
        folder = self.directory / f"{tp.topic}-{tp.partition}"
        segments = PartitionSegments(folder, tp.topic, tp.partition, self.segment_bytes)
        if segments.create() and self.durable:
            segments.sync()
            fsync_dir(self.directory)
        self.partitions[tp] = segments

    def write(self, write: LogWrite) -> None:
        touched: dict[TopicPartition, list[bytes]] = {}
        first: dict[TopicPartition, int] = {}
        for record, txn in write.records:
            tp = record.topic_partition
            touched.setdefault(tp, []).append(encode_frame(record, txn))
            first.setdefault(tp, record.offset)
        for tp, frames in touched.items():
            self.partitions[tp].append(frames, first[tp])
        if self.durable:
            for tp in touched:
                self.partitions[tp].sync()
        if write.state is not None:
            self.write_state(write.state)
        for tp, offset in write.release.items():
            self.partitions[tp].delete_before(offset, self.durable)

    def write_state(self, state: BusState) -> None:
        path = self.directory / STATE_FILE
        temporary = path.with_suffix(".tmp")
        with temporary.open("w") as handle:
            handle.write(state.to_json())
            handle.flush()
            if self.durable:
                os.fsync(handle.fileno())
        os.replace(temporary, path)
        if self.durable:
            fsync_dir(self.directory)

    def close(self) -> None:
        for segments in self.partitions.values():
            segments.close()
        if self._lock is not None:
            self._lock.close()  # releases the lock (as the kernel does for a killed process)
            self._lock = None

    def _take_lock(self) -> None:
        """One process per folder: two would interleave their frames."""
        self._lock = (self.directory / LOCK_FILE).open("a")
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise BusError(f"another process uses the bus folder {self.directory}") from None


def keep_from(state: BusState, tp: TopicPartition) -> int:
    """The oldest offset of `tp` still needed: the lowest commit of the groups reading
    its topic (0 for a group without a commit); a topic nobody reads keeps everything."""
    readers = [g for g in state.groups.values() if tp.topic in g.topics]
    return min((g.committed.get(tp, 0) for g in readers), default=0)
