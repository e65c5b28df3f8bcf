"""Where the console's and Ask AI's statements run: as their own read-only user on a
ClickHouse server when one is configured, on the service's store otherwise."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from exos_common.schema import migrate
from exos_common.settings import StoreSettings
from exos_common.store import open_store
from exos_common.testing.clickhouse import ClickHouseServer
from exos_insights.app import create_app
from exos_insights.settings import InsightsSettings


def test_the_statements_get_the_read_only_user_and_keep_the_server() -> None:
    settings = InsightsSettings(
        clickhouse_url="https://ch.example:8443",
        clickhouse_database="exos",
        clickhouse_user="writer",
        clickhouse_password=SecretStr("writer-secret"),
        insights_clickhouse_user="console_ro",
        insights_clickhouse_password=SecretStr("reader-secret"),
    )
    reader = settings.reader_store_settings()
    assert reader is not None
    assert (reader.clickhouse_url, reader.clickhouse_database) == (
        "https://ch.example:8443",
        "exos",
    )
    assert reader.clickhouse_user == "console_ro"
    assert reader.clickhouse_password is not None
    assert reader.clickhouse_password.get_secret_value() == "reader-secret"


@pytest.mark.parametrize(
    "changes",
    [
        {"clickhouse_url": "https://ch.example:8443"},  # no user of their own
        {"clickhouse_url": "chdb://data", "insights_clickhouse_user": "ro"},  # chDB: no users
    ],
)
def test_without_a_user_of_their_own_the_statements_use_the_service_store(
    changes: dict[str, str],
) -> None:
    assert InsightsSettings.model_validate(changes).reader_store_settings() is None


@pytest.mark.clickhouse_server
def test_with_a_read_only_user_configured_the_console_answers_and_refuses_as_before(
    clickhouse_server: ClickHouseServer,
) -> None:
    database = f"rd_{uuid.uuid4().hex[:8]}"
    store_settings = StoreSettings(
        clickhouse_url=clickhouse_server.url, clickhouse_database=database
    )
    store = open_store(store_settings, create_database=True)
    migrate(store, store_settings, dedup_window=100)
    try:
        # The embedded server has one user (no access control): the reader's own
        # credentials are that user's, given separately from EXOS_CLICKHOUSE_URL's.
        settings = InsightsSettings(
            clickhouse_url=clickhouse_server.url,
            clickhouse_database=database,
            insights_clickhouse_user=clickhouse_server.user,
            insights_clickhouse_password=SecretStr(clickhouse_server.password),
        )
        app = create_app(settings)
        with TestClient(app) as client:
            ran = client.post(
                "/api/insights/sql", json={"sql": "SELECT count() AS n FROM otel_logs"}
            )
            assert ran.status_code == 200, ran.text
            assert ran.json()["rows"] == [[0]]
            refused = client.post(
                "/api/insights/sql", json={"sql": "SELECT * FROM schema_migrations"}
            )
            assert refused.status_code == 403
        # The console's statements really go out with the reader's credentials: with
        # wrong ones the server refuses the console's login, and the console says so.
        wrong = settings.model_copy(
            update={"insights_clickhouse_password": SecretStr("not-the-password")}
        )
        with TestClient(create_app(wrong)) as client:
            denied = client.post(
                "/api/insights/sql", json={"sql": "SELECT count() AS n FROM otel_logs"}
            )
        assert (denied.status_code, denied.json()["error"]["message"]) == (
            503,
            "the console's ClickHouse user was refused: AUTHENTICATION_FAILED",
        )
    finally:
        store.command(f"DROP DATABASE IF EXISTS {database}")
        store.close()
