"""Reading a result within its limits while it streams (pure: byte streams in memory).
Sizes are the rows' JSON text: `{"n":1}` is 7 bytes."""

from __future__ import annotations

import io

import pytest

from exos_common.store import StoreError
from exos_insights.guard.stream import CHUNK_BYTES, read_rows


class Trickle(io.RawIOBase):
    """A stream that hands out `step` bytes per read and counts what was read."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.position = data, step, 0

    def read(self, size: int = -1, /) -> bytes:
        piece = self.data[self.position : self.position + min(size, self.step)]
        self.position += len(piece)
        return piece


def lines(*rows: str) -> bytes:
    return "".join(row + "\n" for row in rows).encode()


@pytest.mark.parametrize("step", [1, 3, 7, 8, CHUNK_BYTES])
def test_rows_are_the_same_whatever_the_chunking(step: int) -> None:
    data = lines('{"n":1,"s":"a"}', '{"n":2,"s":"b\\nc"}', '{"n":3,"s":"d"}')
    cut = read_rows(Trickle(data, step), max_rows=10, max_bytes=1000)
    assert cut.rows == [[1, "a"], [2, "b\nc"], [3, "d"]]
    assert cut.truncated is False
    assert cut.bytes_read == 15 + 18 + 15


def test_exactly_the_row_limit_is_not_a_cut_one_more_row_is() -> None:
    three = lines('{"n":1}', '{"n":2}', '{"n":3}')
    assert read_rows(io.BytesIO(three), 3, 1000).truncated is False
    cut = read_rows(io.BytesIO(three + lines('{"n":4}')), 3, 1000)
    assert cut.rows == [[1], [2], [3]] and cut.truncated is True


def test_rows_up_to_exactly_the_byte_budget_are_kept() -> None:
    data = lines('{"n":1}', '{"n":2}', '{"n":3}')  # 7 bytes each
    exact = read_rows(io.BytesIO(data), 10, 21)
    assert exact.rows == [[1], [2], [3]] and exact.truncated is False
    short = read_rows(io.BytesIO(data), 10, 20)
    assert short.rows == [[1], [2]] and short.truncated is True and short.bytes_read == 14


def test_a_last_row_without_a_line_break_counts() -> None:
    cut = read_rows(io.BytesIO(b'{"n":1}\n{"n":2}'), 10, 1000)
    assert cut.rows == [[1], [2]] and cut.truncated is False


def test_one_huge_row_is_not_read_to_its_end() -> None:
    huge = lines('{"n":1}', '{"s":"' + "x" * 10_000_000 + '"}')
    stream = Trickle(huge, CHUNK_BYTES)
    cut = read_rows(stream, 10, 100_000)
    assert cut.rows == [[1]] and cut.truncated is True
    # stops one chunk past the budget, not at the row's end 10 MB later
    assert stream.position <= 100_000 + 2 * CHUNK_BYTES


def test_repeated_keys_nested_objects_and_nulls_keep_their_places() -> None:
    data = lines('{"1":1,"1":2,"m":{"k":[1,{"a":null}]},"f":null}')
    assert read_rows(io.BytesIO(data), 10, 1000).rows == [[1, 2, {"k": [1, {"a": None}]}, None]]


def test_an_error_written_after_the_rows_began_is_raised_with_its_code() -> None:
    data = lines('{"n":1}') + (
        b"Code: 159. DB::Exception: Timeout exceeded: elapsed 1.2 seconds, maximum: 1. "
        b"(TIMEOUT_EXCEEDED) (version 26.9.2.1)\n"
    )
    with pytest.raises(StoreError) as raised:
        read_rows(io.BytesIO(data), 10, 1000)
    assert raised.value.code == 159 and raised.value.name == "TIMEOUT_EXCEEDED"


@pytest.mark.parametrize("garbage", [b"[1,2]\n", b'"text"\n', b"{not json\n"])
def test_a_line_that_is_not_a_row_is_an_error(garbage: bytes) -> None:
    with pytest.raises(StoreError):
        read_rows(io.BytesIO(garbage), 10, 1000)


def test_an_empty_result_is_no_rows_and_no_cut() -> None:
    assert read_rows(io.BytesIO(b""), 10, 1000).rows == []
    assert read_rows(io.BytesIO(b""), 10, 1000).truncated is False
