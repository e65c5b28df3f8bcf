"""The read-only ClickHouse user of the SQL console and Ask AI (`exos migrate`).

Statements people and the model write run as their own user, not the writer's: a role
holding SELECT on the allowed tables and nothing else (no INSERT, no DDL, no file, URL
or remote sources, no other database), granted to a user with its own password. Each
run brings the role's grants in line with the allow-list (revoke all, grant each) and
the user's password with the setting, so removing a table or rotating the password is
another `exos migrate`.

Access control is a server feature: chDB (the embedded engine of `exos up` and of
`exos clickhouse serve`) refuses CREATE ROLE and CREATE USER (ACCESS_DENIED: its one
user has no access management), so there the step is skipped and says so.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from clickhouse_connect.driver.binding import quote_identifier
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from exos_common.settings import split_list
from exos_common.store.client import Store, StoreError

READER_ROLE = "exos_insights_reader"
ACCESS_DENIED = 497
DEFAULT_READABLE_TABLES = (
    "otel_traces,otel_logs,hyperdx_sessions,span_facts,session_summary,process_events"
)


class ReaderSettings(BaseSettings):
    """Who the SQL console and Ask AI run their statements as, and what it may read."""

    model_config = SettingsConfigDict(env_prefix="EXOS_", extra="ignore", env_ignore_empty=True)

    insights_clickhouse_user: str | None = Field(
        None,
        description="ClickHouse user the SQL console and Ask AI run statements as: "
        "SELECT on EXOS_INSIGHTS_ALLOWED_TABLES only (`exos migrate` creates it and its "
        "role on a ClickHouse server). Unset: they share EXOS_CLICKHOUSE_USER (chDB has "
        "no users).",
    )
    insights_clickhouse_password: SecretStr | None = Field(
        None, description="Password of EXOS_INSIGHTS_CLICKHOUSE_USER."
    )
    insights_allowed_tables: str = Field(
        DEFAULT_READABLE_TABLES,
        description="Comma-separated tables of the EXOS database Ask AI and the console may "
        "read (the tables and the read models other services add); the read-only user's "
        "grants.",
    )

    @property
    def allowed_tables(self) -> frozenset[str]:
        return frozenset(split_list(self.insights_allowed_tables))


@dataclass(frozen=True, slots=True)
class AccessReport:
    user: str | None = None  # the user brought up to date
    skipped: str = ""  # why nothing was done, if nothing was


def password_hash(password: str) -> str:
    """What the server stores (`sha256_hash`): the password itself never appears in a
    statement, so not in the server's query log either."""
    return hashlib.sha256(password.encode()).hexdigest()


def reader_statements(database: str, tables: frozenset[str], user: str, password: str) -> list[str]:
    """The statements, in order; names are quoted, the hash is hex."""
    role = quote_identifier(READER_ROLE)
    name = quote_identifier(user)
    auth = f"IDENTIFIED WITH sha256_hash BY '{password_hash(password)}'"
    db = quote_identifier(database)
    grants = [f"GRANT SELECT ON {db}.{quote_identifier(t)} TO {role}" for t in sorted(tables)]
    return [
        f"CREATE ROLE IF NOT EXISTS {role}",
        f"REVOKE ALL ON *.* FROM {role}",
        *grants,
        f"CREATE USER IF NOT EXISTS {name} {auth}",
        f"ALTER USER {name} {auth}",
        f"REVOKE ALL ON *.* FROM {name}",
        f"GRANT {role} TO {name}",
        f"ALTER USER {name} DEFAULT ROLE {role}",
    ]


def ensure_reader(store: Store, settings: ReaderSettings) -> AccessReport:
    """Create or update the read-only role and user, or say why not."""
    user = settings.insights_clickhouse_user
    if not user:
        return AccessReport(skipped="EXOS_INSIGHTS_CLICKHOUSE_USER is not set")
    if settings.insights_clickhouse_password is None:
        return AccessReport(skipped="EXOS_INSIGHTS_CLICKHOUSE_PASSWORD is not set")
    current = store.query_rows("SELECT currentUser()")[0][0]
    if user == current:
        # Revoking everything from it would take the migrating user's own rights away.
        raise ValueError(
            f"EXOS_INSIGHTS_CLICKHOUSE_USER is {user}, the user that migrates: give the "
            "console a user of its own"
        )
    password = settings.insights_clickhouse_password.get_secret_value()
    first, *rest = reader_statements(store.database, settings.allowed_tables, user, password)
    try:
        store.command(first)
    except StoreError as exc:
        if exc.code != ACCESS_DENIED:
            raise
        return AccessReport(skipped=f"this ClickHouse has no access control here: {exc.message}")
    for statement in rest:
        store.command(statement)
    return AccessReport(user=user)
