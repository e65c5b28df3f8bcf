"""Versioned, idempotent schema migrations (`exos migrate`).

Migrations are the numbered `.sql` files next to this module, applied in order and
recorded in `schema_migrations` with a checksum of their text; an applied migration
whose file changed afterwards stops the run (write a new migration instead).

Retention is not a migration: it comes from settings and can change at any time, so
after the migrations every run reconciles each table's TTL (and its insert
deduplication window) with the settings, altering only what differs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources
from string import Template

from exos_common.schema.access import AccessReport, ReaderSettings, ensure_reader
from exos_common.settings import RetentionSettings
from exos_common.store.client import Store

MIGRATIONS_TABLE = "schema_migrations"

_CREATE_MIGRATIONS_TABLE = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE}
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY version
"""

# The TTL expression of each table: the time column it ages on, and its setting.
_TTL_COLUMN = {
    "otel_traces": "toDate(Timestamp)",
    "otel_logs": "toDateTime(Timestamp)",
    "hyperdx_sessions": "TimestampTime",
}
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    template: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.template.encode()).hexdigest()


@dataclass(slots=True)
class MigrationReport:
    applied: list[str] = field(default_factory=list)
    already_applied: list[str] = field(default_factory=list)
    reconciled: list[str] = field(default_factory=list)
    access: AccessReport = field(default_factory=AccessReport)


def load_migrations() -> list[Migration]:
    folder = resources.files("exos_common.schema") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match["version"]), match["name"], entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {versions}")
    return found


def ttl_expression(table: str, days: int) -> str:
    return f"{_TTL_COLUMN[table]} + toIntervalDay({int(days)})"


def retention_days(retention: RetentionSettings) -> dict[str, int]:
    return {
        "otel_traces": retention.retention_traces_days,
        "otel_logs": retention.retention_logs_days,
        "hyperdx_sessions": retention.retention_sessions_days,
    }


def render(migration: Migration, retention: RetentionSettings, dedup_window: int) -> list[str]:
    """The statements of a migration. Only settings (validated integers) are substituted,
    never user input."""
    values = {
        f"ttl_{table}": ttl_expression(table, days)
        for table, days in retention_days(retention).items()
    }
    values["dedup_window"] = str(int(dedup_window))
    sql = Template(migration.template).substitute(values)
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in body.split(";") if statement.strip()]


def migrate(
    store: Store,
    retention: RetentionSettings,
    dedup_window: int,
    reader: ReaderSettings | None = None,
) -> MigrationReport:
    """Apply the migrations, reconcile retention, and with `reader` bring the console's
    read-only user and role up to date (`exos_common.schema.access`)."""
    report = MigrationReport()
    store.command(_CREATE_MIGRATIONS_TABLE)
    applied = {
        int(row["version"]): row["checksum"]
        for row in store.query(f"SELECT version, checksum FROM {MIGRATIONS_TABLE}")
    }
    for migration in load_migrations():
        label = f"{migration.version:04d}_{migration.name}"
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise MigrationError(f"{label} changed after it was applied")
            report.already_applied.append(label)
            continue
        for statement in render(migration, retention, dedup_window):
            store.command(statement)
        store.insert(
            MIGRATIONS_TABLE,
            [[migration.version, migration.name, migration.checksum]],
            ["version", "name", "checksum"],
        )
        report.applied.append(label)
    report.reconciled = reconcile(store, retention, dedup_window)
    if reader is not None:
        try:
            report.access = ensure_reader(store, reader)
        except ValueError as exc:
            raise MigrationError(str(exc)) from exc
    return report


# Read models whose rows are copies of a base table's rows (written by materialized
# views): they age like their source, with the source's TTL expression, so the data is
# gone from both when retention says so.
DERIVED_RETENTION = {
    "process_events": "otel_traces",
    "span_facts": "otel_traces",
    "replay_chunk_index": "hyperdx_sessions",
}
# Tables fed by the writer's deduplicated inserts (directly or through a view): each
# needs the same dedup window, or a retried batch counts twice there.
DEDUPLICATED = (
    "otel_traces",
    "otel_logs",
    "hyperdx_sessions",
    "process_events",
    "span_facts",
    "session_summary",
    "span_hourly",
    "replay_sessions",
    "replay_chunk_index",
    "exos_quarantine",
)


def reconcile(store: Store, retention: RetentionSettings, dedup_window: int) -> list[str]:
    """Bring each table's TTL and dedup window in line with the settings."""
    changes = []
    days_of = retention_days(retention)
    ttl_of = {table: (table, days) for table, days in days_of.items()}
    ttl_of |= {table: (source, days_of[source]) for table, source in DERIVED_RETENTION.items()}
    existing = {
        str(row["name"])
        for row in store.query(
            "SELECT name FROM system.tables WHERE database = {db:String}", {"db": store.database}
        )
    }
    for table, (source, days) in ttl_of.items():
        if table in existing and f"toIntervalDay({days})" not in _engine_full(store, table):
            store.command(f"ALTER TABLE {table} MODIFY TTL {ttl_expression(source, days)}")
            changes.append(f"{table}: TTL {days} days")
    for table in DEDUPLICATED:
        if table not in existing:
            continue
        engine = _engine_full(store, table)
        if f"non_replicated_deduplication_window = {dedup_window}" not in engine:
            store.command(
                f"ALTER TABLE {table} MODIFY SETTING "
                f"non_replicated_deduplication_window = {int(dedup_window)}"
            )
            changes.append(f"{table}: dedup window {dedup_window} blocks")
    return changes


def _engine_full(store: Store, table: str) -> str:
    rows = store.query(
        "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}",
        {"db": store.database, "t": table},
    )
    if not rows:
        raise MigrationError(f"table {table} is missing after migrations")
    return str(rows[0]["engine_full"])
