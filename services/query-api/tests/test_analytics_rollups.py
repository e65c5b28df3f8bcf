"""The rollups of migrations 0015 (span_facts), 0016 (session_summary) and 0017
(span_hourly): filled by their materialized views on insert, once per batch even when
the writer retries a batch with the same deduplication token."""

from __future__ import annotations

import sys
from pathlib import Path

from exos_common.store import Store

sys.path.insert(0, str(Path(__file__).parent))

import analytics_world as world


def test_span_facts_extracts_the_columns_dashboards_read(migrated_store: Store) -> None:
    world.load(migrated_store)
    rows = migrated_store.query(
        "SELECT SessionId, Page, IsPageView, HttpMethod, HttpStatus, Endpoint, DurationNs, "
        "Browser, Country FROM span_facts WHERE SpanName = 'HTTP POST' ORDER BY Timestamp"
    )
    assert [(r["SessionId"], r["Page"], r["HttpStatus"], r["Endpoint"]) for r in rows] == [
        ("S1", "/orders/:id/scheduling", 503, "/api/orders/:id/schedule"),
        ("S4", "/orders/:id/scheduling", 500, "/api/orders/:id/schedule"),
    ]
    assert rows[0]["DurationNs"] == 90_000_000 and rows[0]["Browser"] == "Chrome"
    vitals = migrated_store.query_rows(
        "SELECT Vital, VitalValue FROM span_facts WHERE SpanName = 'webvitals' "
        "AND SessionId = 'S1' ORDER BY Vital"
    )
    assert vitals == [("cls", 0.05), ("lcp", 2000.0)]
    assert migrated_store.query_rows("SELECT count() FROM span_facts")[0][0] == len(
        world.build().spans
    )


def test_session_summary_folds_a_session_inserted_in_several_batches(
    migrated_store: Store,
) -> None:
    spans = world.build().spans
    half = len(spans) // 2
    migrated_store.insert("otel_traces", spans[:half], world.TRACE_COLUMNS)
    migrated_store.insert("otel_traces", spans[half:], world.TRACE_COLUMNS)
    rows = migrated_store.query(
        "SELECT SessionId, min(Started) AS s, max(Ended) AS e, sum(PageViews) AS pv, "
        "sum(Errors) AS err, max(Browser) AS b FROM session_summary "
        "GROUP BY SessionId ORDER BY SessionId"
    )
    assert [(r["SessionId"], r["pv"], r["err"], r["b"]) for r in rows] == [
        ("S1", 3, 0, "Chrome"),
        ("S2", 1, 1, "Firefox"),
        ("S3", 2, 1, "Chrome"),
        ("S4", 3, 2, "Chrome"),
    ]
    s1 = rows[0]
    assert (s1["e"] - s1["s"]).total_seconds() == 60


def test_a_retried_batch_with_the_same_token_is_counted_once(migrated_store: Store) -> None:
    spans = world.build().spans
    for _ in range(2):  # the writer's retry after a lost acknowledgement
        migrated_store.insert("otel_traces", spans, world.TRACE_COLUMNS, dedup_token="t:0:0-41")
    assert migrated_store.query_rows("SELECT count() FROM otel_traces")[0][0] == len(spans)
    assert migrated_store.query_rows("SELECT count() FROM span_facts")[0][0] == len(spans)
    assert migrated_store.query_rows("SELECT sum(Spans) FROM session_summary")[0][0] == len(spans)
    # span_hourly is fed by a view on span_facts: the retry stops there as well.
    assert migrated_store.query_rows("SELECT sum(Spans) FROM span_hourly")[0][0] == len(spans)
    # A different batch (another token) is stored.
    migrated_store.insert("otel_traces", spans[:1], world.TRACE_COLUMNS, dedup_token="t:0:42-42")
    assert migrated_store.query_rows("SELECT count() FROM span_facts")[0][0] == len(spans) + 1


def test_the_migrations_backfill_spans_stored_before_them(migrated_store: Store) -> None:
    """On a database that already holds spans (an upgrade), 0015 and 0016 end with an
    INSERT ... SELECT that fills the rollups once (skipped when they hold rows)."""
    from exos_common.schema.runner import load_migrations, render
    from exos_common.settings import StoreSettings

    world.load(migrated_store)
    migrated_store.command("TRUNCATE TABLE span_facts")
    migrated_store.command("TRUNCATE TABLE session_summary")
    migrated_store.command("TRUNCATE TABLE span_hourly")
    for migration in load_migrations():
        if migration.version in (15, 16, 17):
            backfill = render(migration, StoreSettings(), dedup_window=1000)[-1]
            assert backfill.startswith("INSERT INTO")
            migrated_store.command(backfill)
            migrated_store.command(backfill)  # a second run adds nothing
    assert migrated_store.query_rows("SELECT count() FROM span_facts")[0][0] == 34
    assert migrated_store.query_rows("SELECT count(), sum(PageViews) FROM session_summary")[0] == (
        4,
        9,
    )
