"""The `replay_sessions` summary (migration 0020) is kept by materialized views: a batch
the writer retries with the same deduplication token is not counted twice, and two
different batches with identical rows both count."""

from __future__ import annotations

from replay_fixtures import SESSION, T0, SessionRows, reference_session

from exos_common.store import Store

SUMMARY = """
SELECT sum(Spans) AS spans, sum(RageClicks) AS rage, sum(ReplayChunks) AS chunks,
    uniqExactMerge(Clicks) AS clicks, argMaxMerge(UserEmail) AS email
FROM replay_sessions WHERE SessionId = {s:String}
"""


def summary(store: Store, session: str = SESSION) -> dict[str, object]:
    return store.query(SUMMARY, {"s": session})[0]


def test_retried_batches_are_not_counted_twice(migrated_store: Store) -> None:
    rows = reference_session()
    rows.write(migrated_store, token="spans.enriched:0:0-19")
    first = summary(migrated_store)
    assert first == {"spans": 13, "rage": 1, "chunks": 6, "clicks": 1, "email": "ann@example.test"}
    rows.write(migrated_store, token="spans.enriched:0:0-19")  # the writer's retry
    assert summary(migrated_store) == first
    indexed = migrated_store.query_rows("SELECT count() FROM replay_chunk_index")[0][0]
    assert indexed == 6  # the chunk index (0022) too
    raw = migrated_store.query_rows("SELECT count() FROM otel_traces")[0][0]
    assert raw == 13


def test_identical_rows_in_different_batches_both_count(migrated_store: Store) -> None:
    one = SessionRows("twice", T0)
    one.span(1, "rage_click")
    one.write(migrated_store, token="spans.enriched:0:0-0")
    one.write(migrated_store, token="spans.enriched:0:1-1")  # same row, later offsets
    assert summary(migrated_store, "twice")["rage"] == 2


def test_identity_is_the_latest_one_seen(migrated_store: Store) -> None:
    rows = SessionRows("switch", T0)
    rows.identity = {"user.email": "zed@example.test"}
    rows.span(1, "click")
    rows.write(migrated_store, token="a")
    later = SessionRows("switch", T0)
    later.identity = {"user.email": "amy@example.test"}
    later.span(5, "click")
    later.write(migrated_store, token="b")
    earlier = SessionRows("switch", T0)
    earlier.span(0, "documentLoad")  # no identity yet: does not blank it
    earlier.write(migrated_store, token="c")
    assert summary(migrated_store, "switch")["email"] == "amy@example.test"


def test_migration_backfills_what_was_stored_before_it(migrated_store: Store) -> None:
    """Re-running the backfill statements on an empty summary (what 0021 does on a
    database that already holds data) gives the same figures as the views."""
    reference_session().write(migrated_store)
    by_views = summary(migrated_store)
    migrated_store.command("TRUNCATE TABLE replay_sessions")
    from exos_common.schema import load_migrations
    from exos_common.schema.runner import render
    from exos_common.settings import StoreSettings

    migration = next(m for m in load_migrations() if m.version == 21)
    backfills = [s for s in render(migration, StoreSettings(), 1000) if s.startswith("INSERT")]
    assert len(backfills) == 2
    for statement in backfills:
        migrated_store.command(statement)
    assert summary(migrated_store) == by_views


def test_chunk_index_backfill_matches_its_view(migrated_store: Store) -> None:
    from exos_common.schema import load_migrations
    from exos_common.schema.runner import render
    from exos_common.settings import StoreSettings

    reference_session().write(migrated_store)
    index = "SELECT Ordinal, Chunk, Total, EventType, Source FROM replay_chunk_index ORDER BY 1, 2"
    by_view = migrated_store.query_rows(index)
    # meta, the snapshot's two chunks, two scrolls (source 3), the mouse click (source 2)
    assert by_view == [
        (1, 1, 1, 4, None),
        (2, 1, 2, 2, None),
        (2, 2, 2, None, None),
        (3, 1, 1, 3, 3),
        (4, 1, 1, 3, 3),
        (5, 1, 1, 3, 2),
    ]
    migrated_store.command("TRUNCATE TABLE replay_chunk_index")
    migration = next(m for m in load_migrations() if m.version == 22)
    (backfill,) = [s for s in render(migration, StoreSettings(), 1000) if s.startswith("INSERT")]
    migrated_store.command(backfill)
    assert migrated_store.query_rows(index) == by_view
