"""One partition of the in-process bus on disk: append-only segment files.

A partition is a folder of segments named by the offset of their first record
(`00000000000000000042.log`). Each record is one frame:

    u32 body length | u32 crc32(body) | body
    body = u64 offset | u64 txn (0: none) | i64 timestamp ms | i32 key length (-1: none)
           | key | u16 header count | (u16 name length, name, u32 length, value)*
           | value (the rest of the body)

Recovery reads every frame back and cuts the partition at the first frame that is short,
fails its crc, breaks the offset sequence, or belongs to a transaction whose commit never
became durable: anything after such a frame was never acknowledged.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from exos_common.bus.port import BusRecord, Headers
from exos_common.logs import get_logger

log = get_logger("exos.bus.segments")

_FRAME = struct.Struct(">II")
_FIXED = struct.Struct(">QQqi")
_COUNT = struct.Struct(">H")
_NAME = struct.Struct(">H")
_VALUE = struct.Struct(">I")
SUFFIX = ".log"


def encode_frame(record: BusRecord, txn: int = 0) -> bytes:
    key = record.key
    parts = [
        _FIXED.pack(record.offset, txn, record.timestamp_ms, -1 if key is None else len(key)),
        key or b"",
        _COUNT.pack(len(record.headers)),
    ]
    for name, value in record.headers:
        encoded = name.encode()
        parts += [_NAME.pack(len(encoded)), encoded, _VALUE.pack(len(value)), value]
    parts.append(record.value)
    body = b"".join(parts)
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


@dataclass(slots=True)
class Frame:
    offset: int
    txn: int
    timestamp_ms: int
    key: bytes | None
    headers: Headers
    value: bytes


def decode_body(body: bytes) -> Frame:
    offset, txn, timestamp_ms, key_length = _FIXED.unpack_from(body, 0)
    at = _FIXED.size
    key = None if key_length < 0 else body[at : at + key_length]
    at += max(key_length, 0)
    (count,) = _COUNT.unpack_from(body, at)
    at += _COUNT.size
    headers: Headers = []
    for _ in range(count):
        (name_length,) = _NAME.unpack_from(body, at)
        at += _NAME.size
        name = body[at : at + name_length].decode()
        at += name_length
        (value_length,) = _VALUE.unpack_from(body, at)
        at += _VALUE.size
        headers.append((name, body[at : at + value_length]))
        at += value_length
    if at > len(body):
        raise ValueError("frame body shorter than its fields")
    return Frame(offset, txn, timestamp_ms, key, headers, body[at:])


def read_frames(data: bytes) -> tuple[list[tuple[Frame, int]], int]:
    """The whole frames at the start of `data` with their byte sizes, and where the
    valid part ends (a torn or corrupt frame and everything after it are left out)."""
    frames: list[tuple[Frame, int]] = []
    at = 0
    while at + _FRAME.size <= len(data):
        length, crc = _FRAME.unpack_from(data, at)
        body = data[at + _FRAME.size : at + _FRAME.size + length]
        if len(body) < length or zlib.crc32(body) != crc:
            break
        try:
            frame = decode_body(body)
        except (struct.error, ValueError, UnicodeDecodeError):
            break
        frames.append((frame, _FRAME.size + length))
        at += _FRAME.size + length
    return frames, at


def segment_name(base: int) -> str:
    return f"{base:020d}{SUFFIX}"


def fsync_dir(path: Path) -> None:
    """Makes a created, renamed or deleted directory entry durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Recovered:
    """What recovery found in a partition: its records from `start` on, and its end."""

    records: list[BusRecord] = field(default_factory=list)
    end: int = 0
    truncated_bytes: int = 0


class PartitionSegments:
    """The segment files of one partition. Not thread-safe: one I/O thread at a time."""

    def __init__(self, directory: Path, topic: str, partition: int, segment_bytes: int) -> None:
        self.directory = directory
        self.topic = topic
        self.partition = partition
        self.segment_bytes = segment_bytes
        self.bases: list[int] = []  # base offsets of the segments, oldest first
        self._active: BinaryIO | None = None
        self._active_size = 0
        self.dirty = False  # written since the last fsync
        self._new_entry = False  # a segment was created since the last fsync

    def create(self) -> bool:
        """Make the folder and a first empty segment if there is none; True if made."""
        if self.directory.exists():
            return False
        self.directory.mkdir(parents=True)
        self._open_new(0)
        return True

    def recover(self, keep_from: int, last_durable_txn: int) -> Recovered:
        """Read every segment; cut the log at the first bad frame (see module doc);
        return the records at or after `keep_from` (earlier ones were committed)."""
        self.bases = sorted(int(p.name.removesuffix(SUFFIX)) for p in self._segment_paths())
        if not self.bases:
            self._open_new(0)
            return Recovered()
        found = Recovered(end=self.bases[0])
        for index, base in enumerate(self.bases):
            path = self.directory / segment_name(base)
            data = path.read_bytes()
            frames, valid = read_frames(data)
            cut = valid
            expected = found.end if index else base
            position = 0
            for frame, size in frames:
                if frame.offset != expected or frame.txn > last_durable_txn:
                    cut = position
                    break
                if frame.offset >= keep_from:
                    found.records.append(self._record(frame))
                expected += 1
                position += size
            found.end = max(expected, base)
            if cut < len(data):
                found.truncated_bytes += len(data) - cut
                log.warning(
                    "bus_log_truncated",
                    topic=self.topic,
                    partition=self.partition,
                    segment=base,
                    kept_bytes=cut,
                    dropped_bytes=len(data) - cut,
                )
                with path.open("r+b") as handle:
                    handle.truncate(cut)
                for later in self.bases[index + 1 :]:  # only ever unacknowledged data
                    found.truncated_bytes += (self.directory / segment_name(later)).stat().st_size
                    (self.directory / segment_name(later)).unlink()
                self.bases = self.bases[: index + 1]
                break
        self._open_active()
        return found

    def _record(self, frame: Frame) -> BusRecord:
        return BusRecord(
            topic=self.topic,
            partition=self.partition,
            offset=frame.offset,
            key=frame.key,
            value=frame.value,
            headers=frame.headers,
            timestamp_ms=frame.timestamp_ms,
        )

    def append(self, frames: list[bytes], first_offset: int) -> None:
        """Write frames whose first record has `first_offset` (consecutive offsets)."""
        if self._active_size >= self.segment_bytes:
            self._roll(first_offset)
        assert self._active is not None
        data = b"".join(frames)
        self._active.write(data)
        self._active.flush()
        self._active_size += len(data)
        self.dirty = True

    def sync(self) -> None:
        if self.dirty and self._active is not None:
            os.fdatasync(self._active.fileno())
        if self._new_entry:
            fsync_dir(self.directory)
        self.dirty = self._new_entry = False

    def delete_before(self, offset: int, durable: bool) -> int:
        """Delete the segments whose records all lie before `offset` (never the active
        one); returns how many were deleted."""
        deletable = [
            base
            for base, following in zip(self.bases, self.bases[1:], strict=False)
            if following <= offset
        ]
        for base in deletable:
            (self.directory / segment_name(base)).unlink()
        self.bases = self.bases[len(deletable) :]
        if deletable and durable:
            fsync_dir(self.directory)
        return len(deletable)

    def close(self) -> None:
        if self._active is not None:
            self._active.close()
            self._active = None

    def _segment_paths(self) -> list[Path]:
        return [p for p in self.directory.iterdir() if p.name.endswith(SUFFIX)]

    def _roll(self, base: int) -> None:
        # The old segment's last writes must be on disk before the new one holds later
        # records, so a crash never leaves a gap behind a newer segment.
        self.sync()
        self.close()
        self._open_new(base)

    def _open_new(self, base: int) -> None:
        self.bases.append(base)
        self._active = (self.directory / segment_name(base)).open("ab")
        self._active_size = 0
        self._new_entry = True

    def _open_active(self) -> None:
        path = self.directory / segment_name(self.bases[-1])
        self._active = path.open("ab")
        self._active_size = path.stat().st_size
