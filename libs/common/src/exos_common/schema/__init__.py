"""The ClickHouse schema of EXOS: versioned migrations and retention reconciliation."""

from exos_common.schema.runner import (
    Migration,
    MigrationError,
    MigrationReport,
    load_migrations,
    migrate,
)

__all__ = ["Migration", "MigrationError", "MigrationReport", "load_migrations", "migrate"]
