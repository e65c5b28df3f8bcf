"""The SQL console (`POST /api/insights/sql`) and the docs endpoints on the hand-built
world: what runs, with what limits, what a mistake looks like, and that every example
the service documents runs as shown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from exos_common.store import Store, StoreError
from exos_insights.app import create_app
from exos_insights.cookbook import COOKBOOK, PRIMITIVES
from exos_insights.guard import Checked, SqlGuard
from exos_insights.settings import InsightsSettings


@pytest.fixture(scope="module")
def client(world_store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store=world_store)) as test_client:
        yield test_client


def run(client: TestClient, sql: str) -> dict[str, object]:
    response = client.post("/api/insights/sql", json={"sql": sql})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.mark.parametrize(
    ("sql", "rows"),
    [
        ("SELECT SeverityText AS severity, count() AS logs FROM otel_logs "
         "GROUP BY severity ORDER BY severity", [["error", 3], ["info", 1]]),
        # comments go, the canonical text runs
        ("select /* how many */ count() AS n -- orders\nfrom otel_traces "
         "where SpanName = 'order.created'", [[3]]),
        ("WITH closing AS (SELECT SpanAttributes['order.id'] AS o FROM otel_traces "
         "WHERE SpanAttributes['order.lob'] = 'closing') "
         "SELECT uniqExact(o) AS orders FROM closing",
         [[2]]),
        ("SELECT ResourceAttributes['rum.sessionId'] AS s, round(avg(Duration) / 1e6) AS ms "
         "FROM otel_traces WHERE SpanName IN ('HTTP POST', 'HTTP GET') GROUP BY s ORDER BY s",
         [["S-1", 200], ["S-2", 50]]),
        ("SELECT number * 2 AS n FROM numbers(3) ORDER BY n", [[0], [2], [4]]),
        ("SELECT count() AS c FROM otel_traces WHERE ResourceAttributes['rum.sessionId'] IN "
         "(SELECT ResourceAttributes['rum.sessionId'] FROM otel_logs WHERE SeverityText = 'error')",
         [[12]]),
    ],
)  # fmt: skip
def test_statements_run_with_the_expected_rows(
    client: TestClient, sql: str, rows: list[list[object]]
) -> None:
    result = run(client, sql)
    assert result["rows"] == rows
    assert result["truncated"] is False


def test_the_answer_carries_the_canonical_sql_types_tables_and_a_chart(client: TestClient) -> None:
    result = run(
        client,
        "select SpanName as name, count() as n from otel_traces "
        "group by name order by n desc, name",
    )
    assert result["sql"] == (
        "SELECT\n    SpanName AS name,\n    count() AS n\nFROM otel_traces\nGROUP BY name\n"
        "ORDER BY\n    n DESC,\n    name ASC"
    )
    assert result["columns"] == ["name", "n"]
    assert result["types"] == ["LowCardinality(String)", "UInt64"]
    assert result["rows"][0] == ["order.created", 3]
    assert result["tables"] and str(result["tables"][0]).endswith(".otel_traces")  # type: ignore[index]
    assert result["chart"] == {"kind": "bar", "x": "name", "y": ["n"]}


def test_rows_are_cut_at_the_limit_and_flagged(world_store: Store) -> None:
    settings = InsightsSettings(insights_max_result_rows=5)
    with TestClient(create_app(settings, store=world_store)) as limited:
        result = run(limited, "SELECT number FROM numbers(100000)")
        small = run(limited, "SELECT number FROM numbers(5)")
    assert len(result["rows"]) == 5 and result["truncated"] is True  # type: ignore[arg-type]
    assert small["truncated"] is False


def test_a_statement_over_the_time_limit_fails_with_a_4xx(world_store: Store) -> None:
    # No rows-read limit, so time is the limit this statement hits.
    settings = InsightsSettings(insights_max_execution_time_s=1, insights_max_rows_to_read=0)
    with TestClient(create_app(settings, store=world_store)) as limited:
        response = limited.post(
            "/api/insights/sql",
            json={"sql": "SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 1"},
        )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "sql_failed"
    assert "Timeout" in response.json()["error"]["message"]


def test_a_statement_reading_more_rows_than_allowed_fails_with_a_4xx(world_store: Store) -> None:
    settings = InsightsSettings(insights_max_rows_to_read=1000)
    with TestClient(create_app(settings, store=world_store)) as limited:
        response = limited.post(
            "/api/insights/sql", json={"sql": "SELECT count() FROM numbers(100000)"}
        )
        within = limited.post(
            "/api/insights/sql", json={"sql": "SELECT count() FROM numbers(1000)"}
        )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "sql_failed"
    assert "max_rows_to_read" in response.json()["error"]["message"]
    assert within.json()["rows"] == [[1000]]


def test_a_statement_over_the_memory_limit_fails_with_a_4xx(world_store: Store) -> None:
    settings = InsightsSettings(insights_max_memory_usage=64 * 1024**2)
    with TestClient(create_app(settings, store=world_store)) as limited:
        response = limited.post(
            "/api/insights/sql",
            json={"sql": "SELECT groupArray(number) FROM numbers(50000000)"},
        )
    assert response.status_code == 422
    assert "memory" in response.json()["error"]["message"].lower()


def test_mistakes_are_400_with_clickhouse_s_message(client: TestClient) -> None:
    syntax = client.post("/api/insights/sql", json={"sql": "SELEC 1"})
    unknown = client.post("/api/insights/sql", json={"sql": "SELECT nope FROM otel_traces"})
    empty = client.post("/api/insights/sql", json={"sql": " \n "})
    assert syntax.status_code == 400 and "Syntax error" in syntax.json()["error"]["message"]
    assert unknown.status_code == 400 and "nope" in unknown.json()["error"]["message"]
    assert empty.status_code == 422


def test_the_guard_leaves_the_shared_session_writable(
    client: TestClient, world_store: Store
) -> None:
    """chDB keeps per-call settings on its one session unless they ride on the query
    itself: readonly must not stick to the store the rest of the process writes with."""
    run(client, "SELECT count() FROM otel_traces")
    assert world_store.query_rows("SELECT getSetting('readonly')")[0][0] == 0
    world_store.command("CREATE TABLE IF NOT EXISTS still_writable (a UInt8) ENGINE = Memory")
    world_store.insert("still_writable", [[1]], ["a"])
    world_store.command("DROP TABLE still_writable")


def test_index_documents_the_seed_primitives(client: TestClient) -> None:
    index = client.get("/api/insights").json()
    seven = [p for p in index["primitives"] if p["area"] == "process mining"]
    assert [(p["function"], p["celonis_equivalent"]) for p in seven] == [
        ("sequenceMatch()", "Process Conformance"),
        ("sequenceCount()", "Rework Analysis"),
        ("lagInFrame()", "Bottleneck Analysis"),
        ("windowFunnel()", "Conversion Funnel"),
        ("groupArray()", "Process Variants"),
        ("quantile()", "KPI Thresholds"),
        ("rolling z-score", "Anomaly Alerts"),
    ]
    ocpm = [p["function"] for p in index["primitives"] if p["area"] == "OCPM"]
    assert ocpm == [
        "arrayJoin()", "arrayDistinct()", "groupArray()", "cityHash64()", "topK()",
        "lagInFrame()", "quantile()", "dateDiff()",
    ]  # fmt: skip
    assert index["limits"]["max_result_rows"] == 1000
    assert "POST /api/insights/sql" in index["endpoints"]


@pytest.mark.parametrize("primitive", PRIMITIVES, ids=lambda p: f"{p.area}:{p.function}")
def test_every_primitive_example_runs(client: TestClient, primitive: object) -> None:
    run(client, primitive.example)  # type: ignore[attr-defined]


@pytest.mark.parametrize("recipe", COOKBOOK, ids=lambda r: r.name)
def test_every_cookbook_recipe_runs(client: TestClient, recipe: object) -> None:
    run(client, recipe.sql)  # type: ignore[attr-defined]


def test_cookbook_endpoint_and_known_answers(client: TestClient) -> None:
    recipes = {r["name"]: r for r in client.get("/api/insights/cookbook").json()["recipes"]}
    assert len(recipes) == len(COOKBOOK)
    assert run(client, recipes["operators_by_orders"]["sql"])["rows"] == [
        ["Alice", 2, 5],
        ["Bob", 1, 1],
    ]
    assert run(client, recipes["rage_click_sessions"]["sql"])["rows"] == [["S-1", 1]]
    conformance = run(client, recipes["conformance"]["sql"])["rows"]
    assert conformance == [[0, 3, 0.0]]  # no order has email.received


def test_schema_endpoint_shows_what_the_model_is_told(client: TestClient) -> None:
    schema = client.get("/api/insights/schema").json()
    assert {"otel_traces", "otel_logs", "hyperdx_sessions"} <= set(schema["tables"])
    assert "insights_conversations" not in schema["tables"]
    assert {"span_name": "order.created", "spans": 3} in schema["span_names"]
    assert schema["span_attribute_keys"]["order.created"] == [
        "operator.id", "operator.name", "order.id", "order.lob",
    ]  # fmt: skip
    assert schema["attribute_values"]["order.lob"] == ["closing", "purchase"]
    assert "operator.name" not in schema["attribute_values"]  # names are not listed


def test_grounding_is_cached_for_its_ttl(world_store: Store) -> None:
    from exos_insights.grounding import GroundingCache

    tables = InsightsSettings().allowed_tables
    kept = GroundingCache(tables, 1000, ttl_s=3600)
    assert kept.get(world_store) is kept.get(world_store)
    fresh = GroundingCache(tables, 1000, ttl_s=0)
    first = fresh.get(world_store)
    assert fresh.get(world_store) is not first
    assert first.span_keys == fresh.get(world_store).span_keys


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        # file is also an ordinary function that reads files: refused by name first
        ("SELECT * FROM file('/etc/passwd', 'LineAsString')", "denied_function"),
        ("SELECT * FROM url('http://127.0.0.1:9/x', 'LineAsString')", "table_function"),
        ("SELECT * FROM s3('http://127.0.0.1:9/b/k', 'LineAsString')", "table_function"),
    ],
)
def test_file_and_url_stay_refused_even_when_allow_listed(
    world_store: Store, sql: str, rule: str
) -> None:
    settings = InsightsSettings(insights_allowed_table_functions="numbers,file,url,s3")
    with TestClient(create_app(settings, store=world_store)) as client:
        response = client.post("/api/insights/sql", json={"sql": sql})
    assert response.status_code == 403
    assert response.json()["error"]["message"].startswith(f"refused ({rule})")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        "SELECT * FROM url('http://127.0.0.1:9/x', 'LineAsString')",
    ],
)
def test_past_the_guard_the_engine_itself_refuses_files_and_urls(
    world_store: Store, sql: str
) -> None:
    """Defence in depth: a statement that reached `run` without the rules (as a guard bug
    would let it) still cannot read a file or a URL: it runs with readonly = 1."""
    settings = InsightsSettings()
    guard = SqlGuard(
        world_store, settings.guard_policy(world_store.database), settings.guard_limits()
    )
    with pytest.raises(StoreError) as raised:
        guard.run(Checked(sql, []))
    assert raised.value.code == 164  # READONLY
