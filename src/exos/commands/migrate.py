"""`exos migrate`: apply the schema migrations to the configured ClickHouse."""

from __future__ import annotations


def migrate() -> None:
    """Apply schema migrations to the configured ClickHouse (EXOS_CLICKHOUSE_URL)."""
    raise NotImplementedError
