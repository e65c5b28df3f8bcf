"""The guard and Ask AI's memory over HTTP, against the embedded ClickHouse server in its
own process (how distributed insights reaches ClickHouse): the settings travel as URL
parameters there, not on a chDB session, and the parse trees come back the same way."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hostile_cases import HOSTILE
from insights_world import build, table_state

from exos_common.schema import migrate
from exos_common.settings import StoreSettings
from exos_common.store import Store, open_store
from exos_common.testing.clickhouse import ClickHouseServer
from exos_insights.app import create_app
from exos_insights.settings import InsightsSettings

pytestmark = pytest.mark.clickhouse_server


@pytest.fixture(scope="module")
def http_store(clickhouse_server: ClickHouseServer) -> Iterator[Store]:
    settings = StoreSettings(
        clickhouse_url=clickhouse_server.url, clickhouse_database=f"ins_{uuid.uuid4().hex[:8]}"
    )
    store = open_store(settings, create_database=True)
    migrate(store, settings, dedup_window=100)
    build(store)
    yield store
    store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    store.close()


def test_statements_run_and_hostile_ones_are_refused(http_store: Store) -> None:
    before = table_state(http_store)
    settings = InsightsSettings(insights_max_result_rows=5)
    with TestClient(create_app(settings, store=http_store)) as client:
        ok = client.post(
            "/api/insights/sql",
            json={"sql": "SELECT SpanAttributes['operator.name'] AS op, count() AS n "
                  "FROM otel_traces WHERE SpanName = 'order.created' GROUP BY op ORDER BY op"},
        )  # fmt: skip
        assert ok.status_code == 200, ok.text
        assert ok.json()["rows"] == [["Alice", 2], ["Bob", 1]]
        cut = client.post("/api/insights/sql", json={"sql": "SELECT number FROM numbers(10000)"})
        assert len(cut.json()["rows"]) == 5 and cut.json()["truncated"] is True
        for sql, rule in HOSTILE:
            response = client.post("/api/insights/sql", json={"sql": sql})
            assert response.status_code == 403, (sql, response.text)
            assert f"refused ({rule}):" in response.json()["error"]["message"], sql
    assert table_state(http_store) == before


def test_a_follow_up_reads_the_first_turn_over_http(http_store: Store) -> None:
    from exos_common.testing.fake_llm import FakeLLM

    sql = (
        "SELECT SpanAttributes['order.lob'] AS lob, count() AS orders FROM otel_traces "
        "WHERE SpanName = 'order.created' GROUP BY lob ORDER BY lob"
    )
    chart = {"kind": "bar", "x": "lob", "y": ["orders"]}
    with FakeLLM() as llm:
        llm.expect({"sql": sql, "explanation": "Orders by LOB.", "title": "", "chart": chart})
        llm.expect({"narrative": "Two closing, one purchase."})

        def sees_first(request: dict[str, object]) -> None:
            messages = request["messages"]
            assert isinstance(messages, list) and "Orders by LOB." in messages[2]["content"]

        llm.expect(
            {"sql": sql.replace("GROUP", "AND lob = 'closing' GROUP"), "explanation": "Closing.",
             "title": "", "chart": chart},
            check=sees_first,
        )  # fmt: skip
        llm.expect({"narrative": "Two closing."})
        settings = InsightsSettings(openai_base_url=llm.base_url, openai_max_retries=0)
        with TestClient(create_app(settings, store=http_store)) as client:
            first = client.post("/api/insights/ask", json={"question": "Orders by LOB?"}).json()
            assert first["rows"] == [["closing", 2], ["purchase", 1]]
            follow = client.post(
                "/api/insights/ask",
                json={"question": "Only closing", "conversation_id": first["conversation_id"]},
            ).json()
        assert follow["rows"] == [["closing", 2]]
        assert llm.failures == []
