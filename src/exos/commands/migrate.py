"""`exos migrate`: apply the schema migrations to the configured ClickHouse."""

from __future__ import annotations

import typer

from exos_common.schema import MigrationError, ReaderSettings
from exos_common.schema import migrate as run_migrations
from exos_common.settings import StoreSettings
from exos_common.store import StoreError, open_store


def migrate() -> None:
    """Apply schema migrations and retention settings to EXOS_CLICKHOUSE_URL, and create
    or update the read-only user of the SQL console and Ask AI."""
    settings = StoreSettings()
    try:
        store = open_store(settings, create_database=True)
        try:
            report = run_migrations(
                store, settings, settings.clickhouse_dedup_window, ReaderSettings()
            )
        finally:
            store.close()
    except (MigrationError, StoreError) as exc:
        typer.echo(f"migration failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    for label in report.applied:
        typer.echo(f"applied {label}")
    for change in report.reconciled:
        typer.echo(f"reconciled {change}")
    if report.access.user:
        typer.echo(f"read-only user {report.access.user}: SELECT on the allowed tables")
    else:
        typer.echo(f"read-only user: skipped ({report.access.skipped})")
    typer.echo(
        f"schema up to date on {settings.clickhouse_url} "
        f"(database {settings.clickhouse_database}): {len(report.applied)} applied, "
        f"{len(report.already_applied)} already applied"
    )
