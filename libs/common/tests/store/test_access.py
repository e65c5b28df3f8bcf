"""The read-only user of the SQL console and Ask AI (`exos migrate`): the statements that
create it, and what happens where there is no access control (chDB in-process and the
embedded ClickHouse server, which runs on chDB: both `store` fixtures)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from exos_common.schema import MigrationError, ReaderSettings, migrate
from exos_common.schema.access import reader_statements
from exos_common.settings import RetentionSettings
from exos_common.store import Store

# sha256 of "abc" (the FIPS 180-2 example).
ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def reader(user: str | None = "console_ro", password: str | None = "abc") -> ReaderSettings:
    return ReaderSettings(
        insights_clickhouse_user=user,
        insights_clickhouse_password=SecretStr(password) if password is not None else None,
        insights_allowed_tables="otel_traces, otel_logs",
    )


def test_the_role_reads_the_allowed_tables_only_and_the_password_never_appears() -> None:
    statements = reader_statements("exos", frozenset({"otel_traces", "otel_logs"}), "ro", "abc")
    auth = f"IDENTIFIED WITH sha256_hash BY '{ABC_SHA256}'"
    assert statements == [
        "CREATE ROLE IF NOT EXISTS `exos_insights_reader`",
        "REVOKE ALL ON *.* FROM `exos_insights_reader`",
        "GRANT SELECT ON `exos`.`otel_logs` TO `exos_insights_reader`",
        "GRANT SELECT ON `exos`.`otel_traces` TO `exos_insights_reader`",
        f"CREATE USER IF NOT EXISTS `ro` {auth}",
        f"ALTER USER `ro` {auth}",
        "REVOKE ALL ON *.* FROM `ro`",
        "GRANT `exos_insights_reader` TO `ro`",
        "ALTER USER `ro` DEFAULT ROLE `exos_insights_reader`",
    ]
    assert not any("abc" in s.replace(ABC_SHA256, "") for s in statements)


def test_a_hostile_user_or_table_name_stays_one_quoted_name() -> None:
    statements = reader_statements("db", frozenset({"t` TO x; DROP"}), "u`; DROP USER x", "p")
    assert "GRANT SELECT ON `db`.`t\\` TO x; DROP` TO `exos_insights_reader`" in statements
    assert "GRANT `exos_insights_reader` TO `u\\`; DROP USER x`" in statements


def test_every_statement_is_clickhouse_sql(store: Store) -> None:
    """ClickHouse's own parser reads each one (formatQuery parses, runs nothing)."""
    for statement in reader_statements("exos", frozenset({"otel_traces"}), "ro", "abc"):
        formatted = store.query_rows("SELECT formatQuery({s:String})", {"s": statement})[0][0]
        assert formatted.split()[0] == statement.split()[0]


def test_without_access_control_the_step_is_skipped_and_says_why(store: Store) -> None:
    report = migrate(store, RetentionSettings(), 100, reader())
    assert report.access.user is None
    assert report.access.skipped.startswith("this ClickHouse has no access control here")
    assert "ACCESS" in report.access.skipped or "privileges" in report.access.skipped


@pytest.mark.parametrize(
    ("settings", "why"),
    [
        (reader(user=None), "EXOS_INSIGHTS_CLICKHOUSE_USER is not set"),
        (reader(password=None), "EXOS_INSIGHTS_CLICKHOUSE_PASSWORD is not set"),
    ],
)
def test_without_a_user_and_password_nothing_is_created(
    store: Store, settings: ReaderSettings, why: str
) -> None:
    assert migrate(store, RetentionSettings(), 100, settings).access.skipped == why


def test_the_migrating_user_is_never_made_the_read_only_one(store: Store) -> None:
    """Revoking everything from it would lock the writer out: refused before any grant."""
    with pytest.raises(MigrationError, match="the user that migrates"):
        migrate(store, RetentionSettings(), 100, reader(user="default"))
