"""A session's rrweb events out of `hyperdx_sessions`, chunks reassembled in recording
order, a page at a time.

Rows are ordered as recorded: nanosecond time, then the recorder's event ordinal, then
the chunk number (the writer keeps all three). A page is read with a keyset cursor
(time, ordinal, chunk) and ends on a complete event, so the player can add each page
to the Replayer as it arrives. Events are passed through as the recorder wrote them
(no re-encoding); each is checked to parse as a JSON object with a numeric `type` and
`timestamp` first, so one corrupt event is reported and skipped instead of failing the
page in the browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from exos_replay.queries.integrity import ChunkMeta
from exos_replay.queries.timeline import Window

_ORDINAL = "toUInt64OrZero(LogAttributes['rr-web.event'])"
_CHUNK = "greatest(toUInt32OrZero(LogAttributes['rr-web.chunk']), 1)"
_TOTAL = "greatest(toUInt32OrZero(LogAttributes['rr-web.total-chunks']), 1)"

# By session id alone (hyperdx_sessions' bloom filter on resource values): no summary
# lookup before the first events. Later pages start at the cursor's time, which prunes
# partitions from below.
FIRST_CHUNKS_PAGE = f"""
SELECT toUnixTimestamp64Nano(Timestamp) AS ts_ns, {_ORDINAL} AS ordinal,
    {_CHUNK} AS chunk, {_TOTAL} AS total, Body AS body
FROM hyperdx_sessions
WHERE ResourceAttributes['rum.sessionId'] = {{session:String}}
ORDER BY Timestamp, ordinal, chunk
LIMIT {{limit:UInt32}}
"""

CHUNKS_PAGE = f"""
SELECT toUnixTimestamp64Nano(Timestamp) AS ts_ns, {_ORDINAL} AS ordinal,
    {_CHUNK} AS chunk, {_TOTAL} AS total, Body AS body
FROM hyperdx_sessions
WHERE ResourceAttributes['rum.sessionId'] = {{session:String}}
  AND TimestampTime >= toDateTime(intDiv({{after_ns:Int64}}, 1000000000))
  AND (toUnixTimestamp64Nano(Timestamp), ordinal, chunk)
      > ({{after_ns:Int64}}, {{after_ordinal:UInt64}}, {{after_chunk:UInt32}})
ORDER BY Timestamp, ordinal, chunk
LIMIT {{limit:UInt32}}
"""

# The chunks' numbers from replay_chunk_index (migration 0022): no chunk text is read.
CHUNK_METAS = """
SELECT toUnixTimestamp64Nano(Timestamp) AS ts_ns, Ordinal AS ordinal, Chunk AS chunk,
    Total AS total, EventType AS event_type
FROM replay_chunk_index
WHERE SessionId = {session:String}
ORDER BY Timestamp, Ordinal, Chunk
"""


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    """Where the last page ended: the last chunk it included."""

    timestamp_ns: int = -1
    ordinal: int = 0
    chunk: int = 0

    def encode(self) -> str:
        return f"{self.timestamp_ns}.{self.ordinal}.{self.chunk}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        parts = text.split(".")
        if len(parts) != 3 or not all(p.lstrip("-").isdigit() for p in parts):
            raise ValueError("cursor must be three integers `time.ordinal.chunk`")
        ts, ordinal, chunk = (int(p) for p in parts)
        if ordinal < 0 or chunk < 0 or ts < -1:
            raise ValueError("cursor parts out of range")
        return cls(ts, ordinal, chunk)


@dataclass(slots=True)
class EventsPage:
    events: list[bytes] = field(default_factory=list)  # each one rrweb event's JSON
    skipped: list[dict[str, Any]] = field(default_factory=list)
    next: Cursor | None = None  # None: the recording is complete
    json_bytes: int = 0
    first_ns: int | None = None  # time of the page's first chunk


class _EventHead(msgspec.Struct):
    """What every rrweb event has. Decoding into it checks the whole text is JSON but
    builds only these two fields (msgspec skips the rest without making objects), so a
    600 KB snapshot costs a syntax scan, not a hundred thousand Python dicts."""

    type: int
    timestamp: float


_EVENT_HEAD = msgspec.json.Decoder(_EventHead)


def _valid_event(raw: bytes) -> str | None:
    """Why `raw` is not an rrweb event, or None when it is one."""
    try:
        _EVENT_HEAD.decode(raw)
    except msgspec.ValidationError as exc:
        return f"not an rrweb event ({exc})"
    except msgspec.DecodeError as exc:
        return f"not JSON ({exc})"
    return None


def read_page(rows: list[dict[str, Any]], limit: int, max_bytes: int, after: Cursor) -> EventsPage:
    """Reassemble `rows` (at most `limit` chunks after `after`) into events. The page
    ends after the first complete event past `max_bytes`; if the rows ran out inside an
    event (or `limit` was hit), it ends before that event and `next` points there."""
    page = EventsPage()
    pending: list[dict[str, Any]] = []
    last_complete = after
    for row in rows:
        if pending and (row["chunk"] == 1 or row["ordinal"] != pending[0]["ordinal"]):
            _skip(page, pending, "chunks missing")
            pending = []
        if not pending and row["chunk"] != 1:
            _skip(page, [row], "chunks missing")
            last_complete = Cursor(row["ts_ns"], row["ordinal"], row["chunk"])
            continue
        pending.append(row)
        if row["chunk"] < row["total"]:
            continue
        last_complete = Cursor(row["ts_ns"], row["ordinal"], row["chunk"])
        body = "".join(r["body"] for r in pending)
        raw = body.encode()
        problem = _valid_event(raw)
        if problem is None:
            page.events.append(raw)
            page.json_bytes += len(raw)
        else:
            _skip(page, pending, problem)
        pending = []
        if page.json_bytes >= max_bytes:
            page.next = last_complete
            return page
    if len(rows) >= limit:
        page.next = last_complete
    return page


def _skip(page: EventsPage, rows: list[dict[str, Any]], reason: str) -> None:
    first = rows[0]
    page.skipped.append(
        {"ordinal": first["ordinal"], "timestamp_ns": first["ts_ns"], "reason": reason}
    )


def fetch_page(
    store: Any, session_id: str, after: Cursor, limit: int, max_bytes: int
) -> EventsPage:
    def query(rows: int) -> list[dict[str, Any]]:
        if after == Cursor():
            return list(store.query(FIRST_CHUNKS_PAGE, {"session": session_id, "limit": rows}))
        parameters = {
            "session": session_id,
            "after_ns": max(after.timestamp_ns, 0),
            "after_ordinal": after.ordinal,
            "after_chunk": after.chunk,
            "limit": rows,
        }
        return list(store.query(CHUNKS_PAGE, parameters))

    rows = query(limit)
    page = read_page(rows, limit, max_bytes, after)
    if page.next == after and rows:
        # One event has more chunks than a page holds: read at least all of it.
        limit += int(rows[0]["total"])
        page = read_page(query(limit), limit, max_bytes, after)
    if page.first_ns is None and rows:
        page.first_ns = int(rows[0]["ts_ns"])
    return page


def chunk_metas(store: Any, window: Window) -> list[ChunkMeta]:
    return [
        ChunkMeta(r["ts_ns"], r["ordinal"], r["chunk"], r["total"], r["event_type"])
        for r in store.query(CHUNK_METAS, {"session": window.session_id})
    ]


# rrweb scroll events (incremental snapshot, source 3) for the heatbar's scroll weight.
SCROLL_TIMES = """
SELECT toUnixTimestamp64Nano(Timestamp) AS ts_ns
FROM replay_chunk_index
WHERE SessionId = {session:String} AND EventType = 3 AND Source = 3
ORDER BY Timestamp
"""


def scroll_times(store: Any, window: Window) -> list[int]:
    rows = store.query(SCROLL_TIMES, {"session": window.session_id})
    return [int(r["ts_ns"]) for r in rows]
