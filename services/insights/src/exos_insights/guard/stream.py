"""Reading a statement's result within its row and byte limits, while it streams.

The result arrives as JSONEachRow text (one object per line) in chunks; each complete
line is one row. The cut is made on that text: a row is kept only if it fits in what
is left of the byte budget, and reading stops at the first row that does not fit or
one past the row limit. The caller then closes the stream, which cancels the rest of
the statement on the server. So what this process holds is at most the budget plus
one chunk, however big the result or any one row of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from exos_common.store import parse_error

CHUNK_BYTES = 64 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Rows:
    rows: list[list[Any]]
    truncated: bool
    bytes_read: int  # bytes of the kept rows' text


class _Pairs(list[tuple[str, Any]]):
    """An object's members in order (JSON objects may repeat a key: `SELECT 1, 1`)."""


def read_rows(stream: Readable, max_rows: int, max_bytes: int) -> Rows:
    rows: list[list[Any]] = []
    kept = 0
    pending = bytearray()
    while True:
        chunk = stream.read(CHUNK_BYTES)
        if not chunk:
            break
        pending += chunk
        start = 0
        while (end := pending.find(b"\n", start)) >= 0:
            line = bytes(pending[start:end])
            start = end + 1
            if len(rows) == max_rows or kept + len(line) > max_bytes:
                return Rows(rows, True, kept)
            rows.append(parse_row(line))
            kept += len(line)
        del pending[:start]
        # A row still arriving that is already over the budget is not waited for.
        if kept + len(pending) > max_bytes:
            return Rows(rows, True, kept)
    if pending.strip():
        line = bytes(pending).strip()
        if len(rows) == max_rows or kept + len(line) > max_bytes:
            return Rows(rows, True, kept)
        rows.append(parse_row(line))
        kept += len(line)
    return Rows(rows, False, kept)


def parse_row(line: bytes) -> list[Any]:
    """One JSONEachRow line as the row's values in column order. Text that is not a
    row is the server's error, written into the body after the rows had started."""
    try:
        members = json.loads(line, object_pairs_hook=_Pairs)
    except ValueError:
        raise parse_error(line.decode("utf-8", "replace")) from None
    if not isinstance(members, _Pairs):
        raise parse_error(line.decode("utf-8", "replace"))
    return [_plain(value) for _, value in members]


def _plain(value: Any) -> Any:
    """Nested objects (Map, named Tuple, JSON columns) as ordinary dicts."""
    if isinstance(value, _Pairs):
        return {key: _plain(item) for key, item in value}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
