"""Ask AI against a local OpenAI-compatible server (FakeLLM) that checks what the service
sends and answers scripted completions; the SQL runs on the hand-built world, whose
answers are worked out by hand (insights_world.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from exos_common.store import Store
from exos_common.testing.fake_llm import FakeLLM, last_user_message, prompt_text
from exos_insights.app import create_app
from exos_insights.settings import InsightsSettings

Check = Callable[[dict[str, Any]], None]

OPERATORS_SQL = (
    "SELECT SpanAttributes['operator.name'] AS operator, "
    "uniqExact(SpanAttributes['order.id']) AS orders FROM otel_traces "
    "WHERE SpanAttributes['order.id'] != '' GROUP BY operator ORDER BY orders DESC, operator"
)
CLOSING_SQL = OPERATORS_SQL.replace("!= ''", "!= '' AND SpanAttributes['order.lob'] = 'closing'")


def sql_answer(sql: str, chart: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "sql": sql,
        "explanation": "Counts the distinct orders each operator worked on.",
        "title": "Orders per operator",
        "chart": chart or {"kind": "bar", "x": "operator", "y": ["orders"]},
    }


def narrative(text: str) -> dict[str, str]:
    return {"narrative": text}


def app_for(llm: FakeLLM, store: Store) -> TestClient:
    settings = InsightsSettings(
        openai_base_url=llm.base_url, openai_api_key="test-key", openai_max_retries=0
    )
    return TestClient(create_app(settings, store=store))


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server
        assert server.failures == []


def grounded(question: str) -> Check:
    """The first request of a turn: the schema (columns of the allowed tables), the
    SpanName taxonomy and the attribute keys that occur, and the cookbook, then the
    question; structured output requested."""

    def check(request: dict[str, Any]) -> None:
        system = request["messages"][0]["content"]
        assert request["messages"][0]["role"] == "system"
        assert "otel_traces(Timestamp DateTime64(9)" in system
        assert "SpanAttributes Map(LowCardinality(String), String)" in system
        assert "-- one row per span" in system  # what a row of each table is
        assert "order.created: 3" in system and "review.started: 2" in system
        assert "rage_click: 1" in system
        assert "order.lob" in system and "operator.name" in system
        assert "'closing'" in system and "'purchase'" in system  # few-valued attribute
        assert "rum.sessionId" in system
        assert "sequenceMatch" in system  # the cookbook rides along
        assert "insights_conversations" not in system  # not on the allow-list
        assert last_user_message(request) == question
        assert request["response_format"]["type"] == "json_schema"
        assert request["response_format"]["json_schema"]["schema"]["required"] == [
            "sql", "explanation", "title", "chart",
        ]  # fmt: skip
        assert request["model"] == "gpt-4.1"

    return check


def narrates(rows: list[list[Any]]) -> Check:
    def check(request: dict[str, Any]) -> None:
        data = json.loads(last_user_message(request).split("Result: ", 1)[1])
        assert data["rows"] == rows

    return check


def test_question_to_sql_to_rows(llm: FakeLLM, world_store: Store) -> None:
    question = "Which operators handle the most orders?"
    llm.expect(sql_answer(OPERATORS_SQL), check=grounded(question))
    llm.expect(
        narrative("Alice handles 2 orders, Bob 1."), check=narrates([["Alice", 2], ["Bob", 1]])
    )
    with app_for(llm, world_store) as client:
        response = client.post("/api/insights/ask", json={"question": question})
        metrics = client.get("/metrics").text
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "answered"
    assert 'exos_insights_asks_total{status="answered"} 1.0' in metrics
    assert 'exos_insights_statements_total{outcome="ran",source="ask"} 1.0' in metrics
    assert 'exos_insights_model_seconds_count{call="sql_answer"} 1.0' in metrics
    assert answer["columns"] == ["operator", "orders"]
    assert answer["rows"] == [["Alice", 2], ["Bob", 1]]
    assert answer["chart"] == {"kind": "bar", "x": "operator", "y": ["orders"]}
    assert answer["narrative"] == "Alice handles 2 orders, Bob 1."
    assert answer["explanation"].startswith("Counts the distinct orders")
    assert answer["sql"].startswith("SELECT") and "uniqExact" in answer["sql"]
    assert answer["tables"] == [f"{world_store.database}.otel_traces"]
    assert [a["outcome"] for a in answer["attempts"]] == ["ran"]
    assert answer["repaired"] is False
    assert len(answer["conversation_id"]) == 32
    assert llm.pending == 0


def test_follow_up_on_another_instance_reuses_the_conversation(
    llm: FakeLLM, world_store: Store
) -> None:
    """Two app instances on one store stand for two replicas: the follow-up lands on
    the second, which reads the first turn from ClickHouse and sends it to the model."""
    first_q, follow_q = "Which operators handle the most orders?", "Now filter to closing LOB"
    llm.expect(sql_answer(OPERATORS_SQL), check=grounded(first_q))
    llm.expect(narrative("Alice 2, Bob 1."))

    def sees_first_turn(request: dict[str, Any]) -> None:
        roles = [m["role"] for m in request["messages"]]
        assert roles == ["system", "user", "assistant", "user"]
        assert request["messages"][1]["content"] == first_q
        previous = request["messages"][2]["content"]
        assert "uniqExact(SpanAttributes['order.id'])" in previous  # the SQL that ran
        assert "2 rows" in previous and '["Alice",2]' in previous  # and what it returned
        assert request["messages"][3]["content"] == follow_q

    llm.expect(sql_answer(CLOSING_SQL), check=sees_first_turn)
    llm.expect(narrative("Alice 1, Bob 1."), check=narrates([["Alice", 1], ["Bob", 1]]))
    with app_for(llm, world_store) as replica_a:
        first = replica_a.post("/api/insights/ask", json={"question": first_q}).json()
    with app_for(llm, world_store) as replica_b:
        response = replica_b.post(
            "/api/insights/ask",
            json={"question": follow_q, "conversation_id": first["conversation_id"]},
        )
        assert response.status_code == 200, response.text
        follow = response.json()
        turns = replica_b.get(f"/api/insights/conversations/{first['conversation_id']}").json()
    assert follow["conversation_id"] == first["conversation_id"]
    assert follow["rows"] == [["Alice", 1], ["Bob", 1]]
    assert [t["question"] for t in turns["turns"]] == [first_q, follow_q]
    assert llm.pending == 0


def test_failing_sql_gets_exactly_one_repair_round(llm: FakeLLM, world_store: Store) -> None:
    question = "How many error logs per session?"
    broken = (
        "SELECT ResourceAttributes['rum.sessionId'] AS session, count() AS errors "
        "FROM otel_logs WHERE Severity = 'error' GROUP BY session"
    )
    fixed = broken.replace("Severity =", "SeverityText =") + " ORDER BY errors DESC"

    def repair(request: dict[str, Any]) -> None:
        messages = request["messages"]
        assert (
            messages[-2]["role"] == "assistant" and "Severity = 'error'" in messages[-2]["content"]
        )
        assert "That SQL did not run" in messages[-1]["content"]
        assert "Severity" in messages[-1]["content"]  # ClickHouse's error names the column
        assert prompt_text(request).count(question) == 1

    llm.expect(sql_answer(broken, {"kind": "bar", "x": "session", "y": ["errors"]}))
    llm.expect(sql_answer(fixed, {"kind": "bar", "x": "session", "y": ["errors"]}), check=repair)
    llm.expect(narrative("S-2 has 2 errors, S-1 has 1."))
    with app_for(llm, world_store) as client:
        answer = client.post("/api/insights/ask", json={"question": question}).json()
    assert answer["status"] == "answered"
    assert answer["rows"] == [["S-2", 2], ["S-1", 1]]
    assert [a["outcome"] for a in answer["attempts"]] == ["invalid", "ran"]
    assert "Severity" in answer["attempts"][0]["error"]
    assert answer["repaired"] is True
    assert len(llm.requests) == 3


def test_a_second_failure_is_a_clear_could_not(llm: FakeLLM, world_store: Store) -> None:
    question = "What is the average order value?"
    llm.expect(
        sql_answer("SELECT avg(toFloat64(SpanAttributes['order.value'])) AS v FROM otel_traces")
    )
    llm.expect(sql_answer("SELECT avg(order_value) AS v FROM otel_traces"))
    with app_for(llm, world_store) as client:
        response = client.post("/api/insights/ask", json={"question": question})
        assert response.status_code == 200, response.text
        answer = response.json()
        turns = client.get(f"/api/insights/conversations/{answer['conversation_id']}").json()
    assert answer["status"] == "could_not"
    assert answer["narrative"].startswith("I could not answer this")
    assert "order_value" in answer["narrative"]
    assert [a["outcome"] for a in answer["attempts"]] == ["failed", "invalid"]
    assert answer["rows"] == []
    assert len(llm.requests) == 2  # no third try, no narrative call
    assert turns["turns"][0]["status"] == "could_not"


def test_a_question_the_data_cannot_answer(llm: FakeLLM, world_store: Store) -> None:
    llm.expect({"sql": "", "explanation": "There is no weather data.", "title": "",
                "chart": {"kind": "table", "x": "", "y": []}})  # fmt: skip
    with app_for(llm, world_store) as client:
        answer = client.post("/api/insights/ask", json={"question": "Weather in Chicago?"}).json()
    assert answer["status"] == "could_not"
    assert "There is no weather data." in answer["narrative"]
    assert len(llm.requests) == 1


def test_without_a_model_ask_is_503_and_the_console_works(world_store: Store) -> None:
    with TestClient(create_app(InsightsSettings(), store=world_store)) as client:
        ask = client.post("/api/insights/ask", json={"question": "Which operators?"})
        console = client.post("/api/insights/sql", json={"sql": OPERATORS_SQL})
        index = client.get("/api/insights").json()
    assert ask.status_code == 503
    assert ask.json()["error"]["code"] == "model_not_configured"
    assert "EXOS_OPENAI_API_KEY" in ask.json()["error"]["message"]
    assert "EXOS_OPENAI_BASE_URL" in ask.json()["error"]["message"]
    assert console.status_code == 200
    assert console.json()["rows"] == [["Alice", 2], ["Bob", 1]]
    assert index["model"]["configured"] is False


def test_a_model_answer_outside_the_schema_is_502(llm: FakeLLM, world_store: Store) -> None:
    llm.expect("Sure! Here is your SQL: SELECT 1")
    with app_for(llm, world_store) as client:
        response = client.post("/api/insights/ask", json={"question": "anything"})
    assert response.status_code == 502
    assert "JSON" in response.json()["error"]["message"]


def test_unknown_conversation_is_404(llm: FakeLLM, world_store: Store) -> None:
    with app_for(llm, world_store) as client:
        response = client.post(
            "/api/insights/ask", json={"question": "more", "conversation_id": "0" * 32}
        )
        bad = client.post("/api/insights/ask", json={"question": "more", "conversation_id": "x'"})
        blank = client.post("/api/insights/ask", json={"question": "   "})
    assert response.status_code == 404
    assert bad.status_code == 422
    assert blank.status_code == 422
    assert llm.requests == []


def test_markdown_fences_around_the_sql_are_dropped() -> None:
    from exos_insights.ask import strip_fences

    assert strip_fences("```sql\nSELECT 1\n```") == "SELECT 1"
    assert strip_fences("```\nSELECT 1\nFROM t\n```\n") == "SELECT 1\nFROM t"
    assert strip_fences("  SELECT '```'  ") == "SELECT '```'"


def test_rows_come_back_even_when_the_narrative_call_fails(
    llm: FakeLLM, world_store: Store
) -> None:
    llm.expect(sql_answer(OPERATORS_SQL))
    llm.expect("not json at all")
    with app_for(llm, world_store) as client:
        answer = client.post("/api/insights/ask", json={"question": "Operators?"}).json()
    assert answer["status"] == "answered"
    assert answer["rows"] == [["Alice", 2], ["Bob", 1]]
    assert answer["narrative"].startswith("(no narrative:")
