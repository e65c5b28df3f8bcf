"""rrweb events out of replay chunks, read only as far as the rules need.

The HyperDX recorder sends one rrweb event as N log records, each a slice of the event's
JSON (`rr-web.event` numbers the event, `rr-web.chunk` 1..N, `rr-web.total-chunks` N).
The rules need the event's type, its `data.source`, its time and, for a few small events
(meta, scroll, viewport resize), its data. rrweb writes every event as
`{"type":T,"data":{"source":S,...},"timestamp":MS}`, so type and source are in the first
bytes and the time is the log record's own timestamp: a chunked event (only full
snapshots and huge mutations are over the recorder's 950 KB chunk size) is reassembled
as its first and last few hundred characters, never as megabytes held in memory; small
single-chunk events of interest are parsed whole.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import orjson

from exos_common.messages import ReplayChunk

# rrweb EventType and IncrementalSource values the rules read.
FULL_SNAPSHOT = 2
INCREMENTAL = 3
META = 4
SOURCE_MUTATION = 0
SOURCE_SCROLL = 3
SOURCE_VIEWPORT_RESIZE = 4
SOURCE_INPUT = 5
SOURCE_MEDIA = 7

_KEEP = 512  # characters kept of a chunked event's start and end
_MAX_NS = 2**63 - 1
_HEAD = re.compile(r'^\s*\{"type":(\d+)(?:,"data":\{"source":(\d+))?')
_LOOSE_TYPE = re.compile(r'"type":\s*(\d+)')
_LOOSE_SOURCE = re.compile(r'"source":\s*(\d+)')
_TAIL_TIMESTAMP = re.compile(r'"timestamp":\s*(\d+(?:\.\d+)?)\s*\}\s*$')
_SNAPSHOT_TAIL = re.compile(
    r'"id":(\d+)\},"initialOffset":\{"left":(-?[\d.eE+-]+),"top":(-?[\d.eE+-]+)\}'
)


@dataclass(frozen=True, slots=True)
class RrwebEvent:
    type: int
    timestamp_ns: int
    source: int | None = None
    data: dict[str, Any] | None = None  # only for the small events the rules read
    document_id: int | None = None  # full snapshot: the document node's id
    initial_top: float | None = None  # full snapshot: page scroll position

    @property
    def changes_dom(self) -> bool:
        """A change the user can see in response to a click: a DOM mutation, an input
        or media change, or a new page (meta / full snapshot)."""
        if self.type in (FULL_SNAPSHOT, META):
            return True
        return self.type == INCREMENTAL and self.source in (
            SOURCE_MUTATION,
            SOURCE_INPUT,
            SOURCE_MEDIA,
        )


def _wants_data(event_type: int, source: int | None) -> bool:
    return event_type == META or (
        event_type == INCREMENTAL and source in (SOURCE_SCROLL, SOURCE_VIEWPORT_RESIZE)
    )


def _ms_to_ns(ms: float) -> int | None:
    """Event time in ns, or None when it is not one (inf, negative, beyond int64):
    times go into int64 arrays and session snapshots."""
    ns = ms * 1_000_000
    return round(ns) if math.isfinite(ns) and 0 <= ns <= _MAX_NS else None


def _timestamp_ns(record_ns: int, tail: str) -> int | None:
    if record_ns > 0:
        return record_ns if record_ns <= _MAX_NS else None
    match = _TAIL_TIMESTAMP.search(tail)
    return _ms_to_ns(float(match.group(1))) if match else None


def _snapshot_offset(tail: str) -> tuple[int | None, float | None]:
    """A full snapshot's document node id and initial scroll top, when readable."""
    match = _SNAPSHOT_TAIL.search(tail)
    if match is None:
        return None, None
    try:
        top = float(match.group(3))
    except ValueError:  # the pattern admits "1.2.3"
        return None, None
    document_id = int(match.group(1))
    if document_id > _MAX_NS or not math.isfinite(top):
        return None, None
    return document_id, top


def parse_event(head: str, tail: str, record_ns: int, whole: str | None) -> RrwebEvent | None:
    """Read an event from its first and last characters (`whole` when it is one chunk)."""
    event_type: int | None = None
    source: int | None = None
    data: dict[str, Any] | None = None
    match = _HEAD.match(head)
    if match:
        event_type = int(match.group(1))
        source = int(match.group(2)) if match.group(2) is not None else None
    if whole is not None and (match is None or _wants_data(event_type or -1, source)):
        try:
            parsed = orjson.loads(whole)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("type"), int):
            return None
        event_type = parsed["type"]
        raw_data = parsed.get("data")
        data = raw_data if isinstance(raw_data, dict) else {}
        raw_source = data.get("source")
        source = raw_source if isinstance(raw_source, int) else None
        if not record_ns and isinstance(parsed.get("timestamp"), int | float):
            record_ns = _ms_to_ns(parsed["timestamp"]) or 0
    elif match is None:  # chunked, unusual key order: look for the first type/source
        loose_type = _LOOSE_TYPE.search(head)
        if loose_type is None:
            return None
        event_type = int(loose_type.group(1))
        loose_source = _LOOSE_SOURCE.search(head)
        source = int(loose_source.group(1)) if loose_source else None
    timestamp_ns = _timestamp_ns(record_ns, tail)
    if event_type is None or timestamp_ns is None:
        return None
    document_id, initial_top = (
        _snapshot_offset(tail) if event_type == FULL_SNAPSHOT else (None, None)
    )
    return RrwebEvent(event_type, timestamp_ns, source, data, document_id, initial_top)


@dataclass(slots=True)
class RrwebState:
    """What a session snapshot keeps of an event being reassembled (at most 2 x 512
    characters of it)."""

    ordinal: int
    total: int
    next_chunk: int
    head: str
    tail: str
    dropped_events: int


class RrwebReassembler:
    """Per session: chunks in, whole events out. Chunks of one event arrive in order on
    one partition; a chunk that does not continue the event in progress (lost or out of
    order) drops that event and is counted in `dropped_events`."""

    __slots__ = ("_head", "_next", "_ordinal", "_tail", "_total", "dropped_events")

    def __init__(self) -> None:
        self._ordinal = -1
        self._total = 0
        self._next = 0
        self._head = ""
        self._tail = ""
        self.dropped_events = 0

    def _reset(self) -> None:
        if self._next:
            self.dropped_events += 1
        self._ordinal, self._total, self._next, self._head, self._tail = -1, 0, 0, "", ""

    def add(self, chunk: ReplayChunk) -> RrwebEvent | None:
        total, index = chunk.total_chunks, chunk.chunk
        if total <= 1:
            self._reset()
            event = parse_event(
                chunk.body[:_KEEP], chunk.body[-_KEEP:], chunk.timestamp_ns, chunk.body
            )
            if event is None:
                self.dropped_events += 1
            return event
        if index == 1:
            self._reset()
            self._ordinal, self._total, self._next = chunk.event_ordinal, total, 2
            self._head, self._tail = chunk.body[:_KEEP], chunk.body[-_KEEP:]
        elif self._next == index and chunk.event_ordinal == self._ordinal and total == self._total:
            self._next += 1
            self._tail = (self._tail + chunk.body)[-_KEEP:]
        else:
            self._reset()
            self.dropped_events += 1  # the stray chunk's event is lost too
            return None
        if self._next <= self._total:
            return None
        head, tail = self._head, self._tail
        self._ordinal, self._total, self._next, self._head, self._tail = -1, 0, 0, "", ""
        event = parse_event(head, tail, chunk.timestamp_ns, None)
        if event is None:
            self.dropped_events += 1
        return event

    @property
    def in_progress(self) -> bool:
        return self._next > 0

    def snapshot_state(self) -> RrwebState:
        return RrwebState(
            self._ordinal, self._total, self._next, self._head, self._tail, self.dropped_events
        )

    def load_state(self, state: RrwebState) -> None:
        self._ordinal, self._total, self._next = state.ordinal, state.total, state.next_chunk
        self._head, self._tail = state.head[:_KEEP], state.tail[-_KEEP:]
        self.dropped_events = state.dropped_events
