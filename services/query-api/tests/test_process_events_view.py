"""process_events (migration 0010): fed by a materialized view on otel_traces, it keeps
domain events only, drops a batch the writer retries with the same deduplication token,
keeps identical events of different batches, and is backfilled from spans stored before
the migration."""

from __future__ import annotations

from typing import Any

from exos_common.schema import migrate
from exos_common.store import Store
from exos_common.testing import dates
from exos_common.testing.stores import open_migrated_store

COLUMNS = ["Timestamp", "SpanId", "SpanName", "ServiceName", "ResourceAttributes", "SpanAttributes"]


def span(span_id: str, name: str, attributes: dict[str, str]) -> list[Any]:
    return [
        dates.on(0, 9),
        span_id,
        name,
        "portal",
        {"rum.sessionId": "s1"},
        attributes,
    ]


BATCH = [
    span("a1", "order.created", {"order.id": "O1", "order.lob": "purchase", "operator.id": "op"}),
    span("a2", "page.inbox", {"operator.id": "op", "operator.team": "Desk"}),
    span("a3", "click", {"location.href": "https://x/orders/O1"}),
]


def events(store: Store) -> list[tuple[Any, ...]]:
    return store.query_rows(
        "SELECT SpanId, OrderId, Activity, SessionId, Lob, OperatorId, OperatorTeam "
        "FROM process_events ORDER BY SpanId"
    )


def test_domain_events_only_with_their_columns(migrated_store: Store) -> None:
    migrated_store.insert("otel_traces", BATCH, COLUMNS)
    assert events(migrated_store) == [
        ("a1", "O1", "order.created", "s1", "purchase", "op", ""),
        ("a2", "", "page.inbox", "s1", "", "op", "Desk"),
    ]


def test_a_retried_batch_is_not_counted_twice(migrated_store: Store) -> None:
    migrated_store.insert("otel_traces", BATCH, COLUMNS, dedup_token="spans:0:0-2")
    migrated_store.insert("otel_traces", BATCH, COLUMNS, dedup_token="spans:0:0-2")
    assert len(events(migrated_store)) == 2
    # The same events in another batch (another token) are new rows.
    migrated_store.insert("otel_traces", BATCH, COLUMNS, dedup_token="spans:0:3-5")
    assert len(events(migrated_store)) == 4
    assert migrated_store.query_rows("SELECT count() FROM otel_traces") == [(6,)]


def test_backfill_from_spans_stored_before_the_migration(chdb_path: Any) -> None:
    store, settings = open_migrated_store(chdb_path, "bf")
    try:
        store.insert("otel_traces", BATCH, COLUMNS)
        # As if process_events came after these spans: drop it and migrate again.
        store.command("DROP VIEW process_events_mv")
        store.command("DROP TABLE process_events")
        store.command("DELETE FROM schema_migrations WHERE version = 10")
        migrate(store, settings, dedup_window=1000)
        assert len(events(store)) == 2
        migrate(store, settings, dedup_window=1000)  # applied once only
        assert len(events(store)) == 2
    finally:
        store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
        store.close()
