"""Replay integrity from chunk numbers alone (pure function)."""

from __future__ import annotations

from exos_replay.queries.integrity import ChunkMeta, check_integrity

MS = 1_000_000


def chunks(*spec: tuple[int, int, int, int | None]) -> list[ChunkMeta]:
    """(ms, ordinal, chunk, type) with total chunks inferred per ordinal."""
    totals: dict[int, int] = {}
    for _, ordinal, chunk, _ in spec:
        totals[ordinal] = max(totals.get(ordinal, 0), chunk)
    return [ChunkMeta(ms * MS, o, c, totals[o], t if c == 1 else None) for ms, o, c, t in spec]


def test_a_clean_recording_is_ok() -> None:
    found = check_integrity(
        chunks((0, 1, 1, 4), (1, 2, 1, 2), (1, 2, 2, None), (5, 3, 1, 3)), 0, "rum.rr-web 3"
    )
    assert found.status == "ok" and found.reasons == []
    assert (found.events, found.chunks, found.full_snapshots, found.page_loads) == (3, 4, 1, 1)


def test_missing_chunk_and_gap_and_order() -> None:
    found = check_integrity(
        [
            ChunkMeta(0, 1, 1, 1, 4),
            ChunkMeta(1 * MS, 2, 1, 3, 2),
            ChunkMeta(1 * MS, 2, 3, 3, None),  # chunk 2 of 3 never arrived
            ChunkMeta(2 * MS, 3, 1, 1, 3),
            ChunkMeta(9 * MS, 7, 1, 1, 3),  # events 4-6 never arrived
            ChunkMeta(10 * MS, 5, 1, 1, 3),  # stored after 7: out of order
        ],
        0,
    )
    assert found.status == "broken"  # its only full snapshot lacks a chunk: no page
    assert found.incomplete_events == 1
    assert [(g.after_event, g.missing_events, g.offset_ms) for g in found.gaps] == [(3, 3, 9.0)]
    assert found.out_of_order_events == 1
    assert any("missing chunks" in r for r in found.reasons)


def test_a_new_page_load_restarts_the_numbers() -> None:
    found = check_integrity(
        chunks((0, 0, 1, 4), (1, 1, 1, 2), (2, 2, 1, 3), (9, 0, 1, 4), (10, 1, 1, 2)), 0
    )
    assert found.status == "ok"
    assert found.page_loads == 2 and found.full_snapshots == 2


def test_changes_before_the_snapshot_and_duplicates_degrade() -> None:
    found = check_integrity(
        chunks((0, 1, 1, 4), (1, 2, 1, 3), (2, 3, 1, 2), (3, 4, 1, 3), (3, 4, 1, 3)), 0
    )
    assert found.status == "degraded"
    assert found.events_before_snapshot == 1 and found.duplicate_chunks == 1


def test_no_chunks_is_none() -> None:
    found = check_integrity([], None)
    assert found.status == "none" and "No rrweb recording" in found.reasons[0]
