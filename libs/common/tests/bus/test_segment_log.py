"""The segment files of one partition: frames, recovery cuts, rolling and deletion."""

from __future__ import annotations

from pathlib import Path

from exos_common.bus.port import BusRecord
from exos_common.bus.segment_log import (
    PartitionSegments,
    decode_body,
    encode_frame,
    read_frames,
    segment_name,
)


def record(offset: int, value: bytes = b"hello", key: bytes | None = b"k1") -> BusRecord:
    return BusRecord("t", 0, offset, key, value, [("n", b"vv")], 1_700_000_000_000 + offset)


# frame header 8 + fixed 28 + key 2 + header count 2 + one header (2 + 1 + 4 + 2) + value 5
FRAME_BYTES = 8 + 28 + 2 + 2 + 9 + 5


def partition(tmp_path: Path, segment_bytes: int = 1 << 20) -> PartitionSegments:
    segments = PartitionSegments(tmp_path / "t-0", "t", 0, segment_bytes)
    segments.create()
    return segments


def write(segments: PartitionSegments, offsets: range, txn: int = 0) -> None:
    segments.append([encode_frame(record(o), txn) for o in offsets], offsets.start)


def test_a_frame_has_the_documented_size_and_round_trips() -> None:
    frame = encode_frame(record(7), txn=3)
    assert len(frame) == FRAME_BYTES == 54
    decoded = decode_body(frame[8:])
    assert (decoded.offset, decoded.txn, decoded.timestamp_ms) == (7, 3, 1_700_000_000_007)
    assert (decoded.key, decoded.headers, decoded.value) == (b"k1", [("n", b"vv")], b"hello")
    keyless = decode_body(encode_frame(record(0, b"", None))[8:])
    assert (keyless.key, keyless.value) == (None, b"")


def test_recovery_reads_back_what_was_appended_and_appends_after_it(tmp_path: Path) -> None:
    segments = partition(tmp_path)
    write(segments, range(0, 3))
    segments.close()
    again = PartitionSegments(tmp_path / "t-0", "t", 0, 1 << 20)
    found = again.recover(keep_from=1, last_durable_txn=0)
    assert [r.offset for r in found.records] == [1, 2]  # offset 0 was committed
    assert found.end == 3 and found.truncated_bytes == 0
    assert found.records[0] == record(1)
    write(again, range(3, 4))
    again.close()
    data = (tmp_path / "t-0" / segment_name(0)).read_bytes()
    assert [f.offset for f, _ in read_frames(data)[0]] == [0, 1, 2, 3]


def test_a_torn_tail_is_cut_at_the_last_whole_frame(tmp_path: Path) -> None:
    segments = partition(tmp_path)
    write(segments, range(0, 3))
    segments.close()
    path = tmp_path / "t-0" / segment_name(0)
    path.write_bytes(path.read_bytes()[: 2 * FRAME_BYTES + 20])  # killed mid-frame
    again = PartitionSegments(tmp_path / "t-0", "t", 0, 1 << 20)
    found = again.recover(keep_from=0, last_durable_txn=0)
    assert ([r.offset for r in found.records], found.end, found.truncated_bytes) == ([0, 1], 2, 20)
    assert path.stat().st_size == 2 * FRAME_BYTES
    again.close()


def test_a_frame_failing_its_crc_cuts_the_log_there(tmp_path: Path) -> None:
    segments = partition(tmp_path)
    write(segments, range(0, 3))
    segments.close()
    path = tmp_path / "t-0" / segment_name(0)
    data = bytearray(path.read_bytes())
    data[FRAME_BYTES + FRAME_BYTES - 1] ^= 0xFF  # last byte of the second frame's value
    path.write_bytes(bytes(data))
    found = PartitionSegments(tmp_path / "t-0", "t", 0, 1 << 20).recover(0, 0)
    assert ([r.offset for r in found.records], found.end) == ([0], 1)
    assert found.truncated_bytes == 2 * FRAME_BYTES
    assert path.stat().st_size == FRAME_BYTES


def test_frames_of_a_transaction_whose_commit_is_not_durable_are_cut(tmp_path: Path) -> None:
    segments = partition(tmp_path)
    write(segments, range(0, 2), txn=4)
    write(segments, range(2, 4), txn=5)
    segments.close()
    found = PartitionSegments(tmp_path / "t-0", "t", 0, 1 << 20).recover(0, last_durable_txn=4)
    assert ([r.offset for r in found.records], found.end) == ([0, 1], 2)
    assert (tmp_path / "t-0" / segment_name(0)).stat().st_size == 2 * FRAME_BYTES


def test_segments_roll_and_only_whole_segments_before_the_commit_go(tmp_path: Path) -> None:
    segments = partition(tmp_path, segment_bytes=2 * FRAME_BYTES)
    for offset in range(7):  # two frames fill a segment: bases 0, 2, 4, 6
        write(segments, range(offset, offset + 1))
    assert segments.bases == [0, 2, 4, 6]
    assert segments.delete_before(5, durable=True) == 2  # 4-5 still holds offset 5
    assert sorted(p.name for p in (tmp_path / "t-0").iterdir()) == [
        segment_name(4),
        segment_name(6),
    ]
    assert segments.delete_before(100, durable=True) == 1  # never the active segment
    segments.close()
    found = PartitionSegments(tmp_path / "t-0", "t", 0, 2 * FRAME_BYTES).recover(7, 0)
    assert (found.records, found.end) == ([], 7)


def test_a_torn_segment_before_newer_ones_drops_the_newer_ones(tmp_path: Path) -> None:
    segments = partition(tmp_path, segment_bytes=2 * FRAME_BYTES)
    for offset in range(5):
        write(segments, range(offset, offset + 1))
    segments.close()
    middle = tmp_path / "t-0" / segment_name(2)
    middle.write_bytes(middle.read_bytes()[:-1])
    again = PartitionSegments(tmp_path / "t-0", "t", 0, 2 * FRAME_BYTES)
    found = again.recover(0, 0)
    assert ([r.offset for r in found.records], found.end) == ([0, 1, 2], 3)
    assert again.bases == [0, 2]
    assert not (tmp_path / "t-0" / segment_name(4)).exists()
