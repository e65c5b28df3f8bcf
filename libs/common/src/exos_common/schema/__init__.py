"""The ClickHouse schema of EXOS: versioned migrations, retention reconciliation, and
the read-only user of the SQL console and Ask AI."""

from exos_common.schema.access import AccessReport, ReaderSettings, ensure_reader
from exos_common.schema.runner import (
    Migration,
    MigrationError,
    MigrationReport,
    load_migrations,
    migrate,
)

__all__ = [
    "AccessReport",
    "Migration",
    "MigrationError",
    "MigrationReport",
    "ReaderSettings",
    "ensure_reader",
    "load_migrations",
    "migrate",
]
