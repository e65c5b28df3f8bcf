"""Replay integrity: why a recording would not replay, said before the player freezes.

Works on the chunks' numbers only (time, the recorder's event ordinal, chunk i of n, and
the event type read from the first chunk's first bytes), never on the events' JSON.

- full snapshot: rrweb cannot build a page without a type-2 event; events recorded
  before the first one (of a page load) cannot be shown.
- chunks complete: every event's chunks 1..n are stored (the recorder slices events over
  950 KiB, i.e. full snapshots, into n log records).
- events in order: the recorder numbers events 0, 1, 2, ... per page load; a smaller
  number that is not a fresh page load's start means events were stored out of order.
- gaps: numbers skipped within a page load are events that never arrived.
- duplicates: the same chunk stored twice (a retried insert outside the dedup window).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

FULL_SNAPSHOT = 2
META = 4
INCREMENTAL = 3
RESTART_MAX_ORDINAL = 1  # a page load's recorder starts counting at 0 or 1

Status = Literal["ok", "degraded", "broken", "none"]


@dataclass(frozen=True, slots=True)
class ChunkMeta:
    timestamp_ns: int
    ordinal: int
    chunk: int
    total: int
    event_type: int | None  # read from the first chunk only


class Gap(BaseModel):
    offset_ms: float = Field(description="Where in the replay the missing events were.")
    missing_events: int
    after_event: int = Field(description="Recorder ordinal of the last event before the gap.")


class Integrity(BaseModel):
    status: Status = Field(
        description="`ok`; `degraded` (replays, with the faults listed); `broken` (cannot "
        "replay: no full snapshot); `none` (no recording)."
    )
    reasons: list[str] = Field(description="One sentence per fault, in plain words.")
    full_snapshot: bool
    full_snapshots: int
    page_loads: int = Field(description="Meta events (type 4): one per recorded page load.")
    events: int
    chunks: int
    chunks_complete: bool
    incomplete_events: int
    events_in_order: bool
    out_of_order_events: int
    events_before_snapshot: int
    duplicate_chunks: int
    gaps: list[Gap]
    recorder: str = Field(description="Scope name and version of the recorder that sent it.")


def check_integrity(
    chunks: Sequence[ChunkMeta], first_event_ns: int | None, recorder: str = ""
) -> Integrity:
    """`chunks` in stored order (time, ordinal, chunk)."""
    if not chunks:
        return _none(recorder)
    base = first_event_ns if first_event_ns is not None else chunks[0].timestamp_ns
    events = incomplete = out_of_order = before_snapshot = duplicates = 0
    snapshots = metas = 0
    gaps: list[Gap] = []
    seen: set[tuple[int, int, int]] = set()  # (segment, ordinal, chunk)
    segment = 0
    previous: ChunkMeta | None = None
    open_event: ChunkMeta | None = None  # first chunk of the event being assembled
    got = 0
    snapshot_in_segment = False
    for meta in chunks:
        is_restart = (
            previous is not None
            and meta.ordinal < previous.ordinal
            and meta.ordinal <= RESTART_MAX_ORDINAL
            and meta.chunk == 1
        )
        if is_restart:
            segment += 1
            snapshot_in_segment = False
        key = (segment, meta.ordinal, meta.chunk)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        if previous is not None and not is_restart and meta.ordinal != previous.ordinal:
            if meta.ordinal < previous.ordinal:
                out_of_order += 1
            elif meta.ordinal > previous.ordinal + 1:
                gaps.append(
                    Gap(
                        offset_ms=round((meta.timestamp_ns - base) / 1e6, 3),
                        missing_events=meta.ordinal - previous.ordinal - 1,
                        after_event=previous.ordinal,
                    )
                )
        if meta.chunk == 1:
            if open_event is not None:
                incomplete += 1  # the previous event never got its last chunk
            open_event, got = meta, 0
            events += 1
            if meta.event_type == META:
                metas += 1
            elif meta.event_type == INCREMENTAL and not snapshot_in_segment:
                before_snapshot += 1
        elif open_event is None or open_event.ordinal != meta.ordinal:
            incomplete += 1  # a later chunk without its first one
            open_event = None
            previous = meta
            continue
        got += 1
        if open_event is not None and meta.chunk == meta.total:
            if got != meta.total:
                incomplete += 1
            elif open_event.event_type == FULL_SNAPSHOT:
                # Only a snapshot with all its chunks builds a page.
                snapshots += 1
                snapshot_in_segment = True
            open_event = None
        previous = meta
    if open_event is not None:
        incomplete += 1
    return _verdict(
        Integrity(
            status="ok",
            reasons=[],
            full_snapshot=snapshots > 0,
            full_snapshots=snapshots,
            page_loads=metas,
            events=events,
            chunks=len(chunks),
            chunks_complete=incomplete == 0,
            incomplete_events=incomplete,
            events_in_order=out_of_order == 0,
            out_of_order_events=out_of_order,
            events_before_snapshot=before_snapshot,
            duplicate_chunks=duplicates,
            gaps=gaps,
            recorder=recorder,
        )
    )


def _verdict(found: Integrity) -> Integrity:
    reasons = []
    if not found.full_snapshot:
        reasons.append(
            "No full snapshot (rrweb event type 2) was stored: the player has no page to "
            "build, so nothing can be shown."
        )
    if found.incomplete_events:
        reasons.append(
            f"{found.incomplete_events} event(s) are missing chunks: they are left out of "
            "the replay (a full snapshot among them leaves its page blank)."
        )
    if found.gaps:
        missing = sum(g.missing_events for g in found.gaps)
        reasons.append(
            f"{missing} event(s) never arrived ({len(found.gaps)} gap(s)): the page may "
            "jump or lack changes from there."
        )
    if found.out_of_order_events:
        reasons.append(
            f"{found.out_of_order_events} event(s) were stored out of recording order; "
            "the player replays them by time."
        )
    if found.events_before_snapshot:
        reasons.append(
            f"{found.events_before_snapshot} change(s) were recorded before their page's "
            "full snapshot and cannot be shown."
        )
    if found.duplicate_chunks:
        reasons.append(f"{found.duplicate_chunks} chunk(s) were stored twice; copies ignored.")
    status: Status = "ok"
    if not found.full_snapshot:
        status = "broken"
    elif reasons:
        status = "degraded"
    return found.model_copy(update={"status": status, "reasons": reasons})


def _none(recorder: str) -> Integrity:
    return Integrity(
        status="none",
        reasons=["No rrweb recording exists for this session (replay off, or not sent)."],
        full_snapshot=False,
        full_snapshots=0,
        page_loads=0,
        events=0,
        chunks=0,
        chunks_complete=True,
        incomplete_events=0,
        events_in_order=True,
        out_of_order_events=0,
        events_before_snapshot=0,
        duplicate_chunks=0,
        gaps=[],
        recorder=recorder,
    )
