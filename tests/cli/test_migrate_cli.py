"""`exos migrate` end to end through the command line, on an embedded chDB folder."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exos.cli import app
from exos_common.schema.runner import load_migrations
from exos_common.settings import StoreSettings
from exos_common.store import open_store


def test_migrate_creates_the_database_and_tables_then_is_a_no_op(
    chdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = f"cli_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("EXOS_CLICKHOUSE_URL", f"chdb://{chdb_path}")
    monkeypatch.setenv("EXOS_CLICKHOUSE_DATABASE", database)
    monkeypatch.setenv("EXOS_RETENTION_SESSIONS_DAYS", "5")
    runner = CliRunner()
    every = len(load_migrations())

    first = runner.invoke(app, ["migrate"])
    assert first.exit_code == 0, first.output
    assert "applied 0003_hyperdx_sessions" in first.output
    assert f"{every} applied, 0 already applied" in first.output

    second = runner.invoke(app, ["migrate"])
    assert second.exit_code == 0, second.output
    assert f"0 applied, {every} already applied" in second.output

    store = open_store(StoreSettings())
    tables = {r["name"] for r in store.query("SHOW TABLES")}
    ttl = store.query_rows(
        "SELECT engine_full FROM system.tables WHERE database = {d:String} "
        "AND name = 'hyperdx_sessions'",
        {"d": database},
    )[0][0]
    store.close()
    assert {"otel_traces", "otel_logs", "hyperdx_sessions", "schema_migrations"} <= tables
    assert "toIntervalDay(5)" in ttl


def test_migrate_reports_an_unreachable_server_and_exits_non_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXOS_CLICKHOUSE_URL", "http://127.0.0.1:9")  # discard port: closed
    monkeypatch.setenv("EXOS_CLICKHOUSE_CONNECT_TIMEOUT_S", "1")
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert "migration failed" in result.output


def test_migrate_says_the_read_only_user_was_skipped_on_chdb(
    chdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXOS_CLICKHOUSE_URL", f"chdb://{chdb_path}")
    monkeypatch.setenv("EXOS_CLICKHOUSE_DATABASE", f"cli_{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("EXOS_INSIGHTS_CLICKHOUSE_USER", "console_ro")
    monkeypatch.setenv("EXOS_INSIGHTS_CLICKHOUSE_PASSWORD", "a-long-password")
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "read-only user: skipped (this ClickHouse has no access control here" in result.output
