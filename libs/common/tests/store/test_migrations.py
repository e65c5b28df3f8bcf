"""Schema migrations on chDB and on the embedded ClickHouse server (fixtures in conftest)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from exos_common.schema import MigrationError, load_migrations, migrate
from exos_common.schema.runner import render
from exos_common.settings import RetentionSettings
from exos_common.store import Store

RETENTION = RetentionSettings(
    retention_traces_days=30, retention_logs_days=14, retention_sessions_days=7
)


def columns(store: Store, table: str) -> dict[str, str]:
    rows = store.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}",
        {"db": store.database, "t": table},
    )
    return {r["name"]: r["type"] for r in rows}


def engine(store: Store, table: str) -> str:
    return str(
        store.query(
            "SELECT engine_full FROM system.tables WHERE database = {db:String} "
            "AND name = {t:String}",
            {"db": store.database, "t": table},
        )[0]["engine_full"]
    )


def test_migrations_are_numbered_in_order() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions[:3] == [1, 2, 3]  # the ClickStack tables; read models follow
    assert versions == sorted(set(versions))


def test_migrate_creates_the_clickstack_tables_once(store: Store) -> None:
    every = [f"{m.version:04d}_{m.name}" for m in load_migrations()]
    first = migrate(store, RETENTION, dedup_window=100)
    assert first.applied[:3] == ["0001_otel_traces", "0002_otel_logs", "0003_hyperdx_sessions"]
    assert first.applied == every
    second = migrate(store, RETENTION, dedup_window=100)
    assert second.applied == [] and second.reconciled == []
    assert len(second.already_applied) == len(every)
    assert store.query_rows(
        "SELECT version, name FROM schema_migrations ORDER BY version LIMIT 3"
    ) == [(1, "otel_traces"), (2, "otel_logs"), (3, "hyperdx_sessions")]

    traces = columns(store, "otel_traces")
    assert traces["Timestamp"] == "DateTime64(9)"
    assert traces["SpanAttributes"] == "Map(LowCardinality(String), String)"
    assert traces["Events.Timestamp"] == "Array(DateTime64(9))"
    assert traces["__hdx_materialized_rum.sessionId"] == "String"
    assert columns(store, "otel_logs")["SeverityText"] == "LowCardinality(String)"
    sessions = columns(store, "hyperdx_sessions")
    assert {"session_id", "events", "timestamp", "TimestampTime", "LogAttributes"} <= set(sessions)
    assert "toIntervalDay(30)" in engine(store, "otel_traces")
    assert "toIntervalDay(14)" in engine(store, "otel_logs")
    assert "toIntervalDay(7)" in engine(store, "hyperdx_sessions")


def test_seed_sql_runs_verbatim_on_the_session_aliases(store: Store) -> None:
    migrate(store, RETENTION, dedup_window=100)
    now = datetime.now().replace(microsecond=0)
    store.insert(
        "hyperdx_sessions",
        [
            [now, {"rum.sessionId": "s1"}, '{"type":2}'],
            [now, {"rum.sessionId": "s1"}, '{"type":3}'],
            [now, {"rum.sessionId": "s2"}, '{"type":2}'],
        ],
        ["Timestamp", "ResourceAttributes", "Body"],
    )
    seed_sql = (
        "SELECT session_id, count() as batches, min(timestamp) as started FROM hyperdx_sessions "
        "WHERE timestamp >= now() - INTERVAL 7 DAY GROUP BY session_id "
        "ORDER BY started DESC LIMIT 10"
    )
    assert sorted((r["session_id"], r["batches"]) for r in store.query(seed_sql)) == [
        ("s1", 2),
        ("s2", 1),
    ]
    assert store.query_rows("SELECT events FROM hyperdx_sessions WHERE session_id = 's2'") == [
        ('{"type":2}',)
    ]


def test_changed_retention_is_reconciled_without_a_new_migration(store: Store) -> None:
    migrate(store, RETENTION, dedup_window=100)
    shorter = RetentionSettings(
        retention_traces_days=30, retention_logs_days=3, retention_sessions_days=7
    )
    report = migrate(store, shorter, dedup_window=100)
    assert report.applied == []
    assert report.reconciled == ["otel_logs: TTL 3 days"]
    assert "toIntervalDay(3)" in engine(store, "otel_logs")


def test_read_models_age_with_their_source_and_share_the_dedup_window(store: Store) -> None:
    migrate(store, RETENTION, dedup_window=100)
    shorter = RetentionSettings(
        retention_traces_days=9, retention_logs_days=14, retention_sessions_days=4
    )
    report = migrate(store, shorter, dedup_window=250)
    assert {
        "otel_traces: TTL 9 days",
        "process_events: TTL 9 days",
        "span_facts: TTL 9 days",
        "hyperdx_sessions: TTL 4 days",
        "replay_chunk_index: TTL 4 days",
    } <= set(report.reconciled)
    assert "toIntervalDay(9)" in engine(store, "process_events")
    assert "toIntervalDay(4)" in engine(store, "replay_chunk_index")
    for table in ("otel_traces", "span_facts", "session_summary", "replay_sessions"):
        assert "non_replicated_deduplication_window = 250" in engine(store, table), table
    assert migrate(store, shorter, dedup_window=250).reconciled == []


def test_an_applied_migration_that_changed_stops_the_run(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate(store, RETENTION, dedup_window=100)
    edited = [replace(m, template=m.template + "\n-- edited") for m in load_migrations()]
    monkeypatch.setattr("exos_common.schema.runner.load_migrations", lambda: edited)
    with pytest.raises(MigrationError, match="0001_otel_traces changed after it was applied"):
        migrate(store, RETENTION, dedup_window=100)


def test_render_substitutes_only_settings() -> None:
    [statement] = render(load_migrations()[0], RETENTION, dedup_window=42)
    assert "TTL toDate(Timestamp) + toIntervalDay(30)" in statement
    assert "non_replicated_deduplication_window = 42" in statement
    assert "${" not in statement
