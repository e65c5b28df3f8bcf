"""The Ask AI page in real Chromium, against the insights app on a local port and the
local model server: a question and its follow-up, the answer's table and chart, the SQL
edited and run again; without a model, the notice, the console and the cookbook."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Page

from exos_common.store import Store
from exos_common.testing.fake_llm import FakeLLM
from exos_insights.app import create_app
from exos_insights.settings import InsightsSettings

OPERATORS_SQL = (
    "SELECT SpanAttributes['operator.name'] AS operator, "
    "uniqExact(SpanAttributes['order.id']) AS orders FROM otel_traces "
    "WHERE SpanAttributes['order.id'] != '' GROUP BY operator ORDER BY orders DESC, operator"
)
CLOSING_SQL = OPERATORS_SQL.replace("!= ''", "!= '' AND SpanAttributes['order.lob'] = 'closing'")


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the insights app did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)


def answer(sql: str) -> dict[str, object]:
    return {
        "sql": sql,
        "explanation": "Distinct orders per operator.",
        "title": "Orders per operator",
        "chart": {"kind": "bar", "x": "operator", "y": ["orders"]},
    }


def table_of(page: Page, turn: int) -> list[list[str]]:
    rows: list[list[str]] = page.eval_on_selector_all(
        f".turn:nth-child({turn}) .table-box tbody tr",
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))",
    )
    return rows


def test_ask_follow_up_and_rerun_edited_sql(page: Page, world_store: Store) -> None:
    with FakeLLM() as llm:
        llm.expect(answer(OPERATORS_SQL))
        llm.expect({"narrative": "Alice handles two orders, Bob one."})

        def sees_first_turn(request: dict[str, object]) -> None:
            messages = request["messages"]
            assert isinstance(messages, list) and len(messages) == 4
            assert messages[1]["content"] == "Which operators handle the most orders?"

        llm.expect(answer(CLOSING_SQL), check=sees_first_turn)
        llm.expect({"narrative": "On closing orders they are even."})
        settings = InsightsSettings(openai_base_url=llm.base_url, openai_max_retries=0)
        with serving(create_app(settings, store=world_store)) as base:
            page.goto(f"{base}/ask")
            page.wait_for_selector("#cookbook li")
            page.fill("#question", "Which operators handle the most orders?")
            page.click("#ask-button")
            page.wait_for_selector(".turn:nth-child(1) .table-box table")
            assert table_of(page, 1) == [["Alice", "2"], ["Bob", "1"]]
            first = page.locator(".turn:nth-child(1)")
            assert (
                first.locator(".narrative").text_content() == "Alice handles two orders, Bob one."
            )
            assert first.locator(".explanation").text_content() == "Distinct orders per operator."
            assert "uniqExact" in first.locator(".sql").input_value()
            chart = page.evaluate(
                "() => { const c = document.querySelector('.turn:nth-child(1) canvas')._chart;"
                " return [c.config.type, c.data.labels, c.data.datasets[0].data]; }"
            )
            assert chart == ["bar", ["Alice", "Bob"], [2, 1]]
            assert "c=" in page.url

            # the follow-up keeps the conversation (the model sees the first turn)
            page.fill("#question", "Now filter to closing LOB")
            page.keyboard.press("Control+Enter")
            page.wait_for_selector(".turn:nth-child(2) .table-box table")
            assert table_of(page, 2) == [["Alice", "1"], ["Bob", "1"]]

            # edit the SQL of the second answer and run it again
            second = page.locator(".turn:nth-child(2)")
            edited = second.locator(".sql").input_value().replace("'closing'", "'purchase'")
            second.locator(".sql").fill(edited)
            second.locator("button.run").click()
            page.wait_for_function(
                "() => document.querySelectorAll('.turn:nth-child(2) tbody tr').length === 1"
            )
            assert table_of(page, 2) == [["Alice", "1"]]
            assert second.locator(".status").text_content().startswith("ran in")

            # a refused edit says why, and the table stays
            second.locator(".sql").fill("DROP TABLE otel_traces")
            second.locator("button.run").click()
            page.wait_for_selector(".turn:nth-child(2) .status.error")
            assert "refused (not_select)" in second.locator(".status").text_content()
            assert table_of(page, 2) == [["Alice", "1"]]

            # a reload restores the conversation and runs its SQL again
            page.reload()
            page.wait_for_selector(".turn:nth-child(2) .table-box table")
            assert table_of(page, 1) == [["Alice", "2"], ["Bob", "1"]]
            assert table_of(page, 2) == [["Alice", "1"], ["Bob", "1"]]
        assert llm.failures == []
    # the refused run answered 403: the browser logs that failed request, nothing else
    assert [p for p in page.problems if "403" not in p] == []  # type: ignore[attr-defined]


def test_without_a_model_the_console_and_cookbook_work(page: Page, world_store: Store) -> None:
    with serving(create_app(InsightsSettings(), store=world_store)) as base:
        page.goto(f"{base}/ask")
        page.wait_for_selector("#cookbook li")
        assert page.locator("#model-status").is_visible()
        assert "EXOS_OPENAI_API_KEY" in page.locator("#model-status").text_content()
        assert page.locator("#ask-button").is_disabled()
        page.click("text=Which operators handle the most orders?")
        page.wait_for_selector(".turn:nth-child(1) .table-box table")
        assert table_of(page, 1) == [["Alice", "2", "5"], ["Bob", "1", "1"]]
        assert page.locator("#primitives li").count() == 15
        page.click("#primitives li >> text=sequenceCount()")
        page.wait_for_selector(".turn:nth-child(2) .status")
        page.wait_for_function(
            "() => document.querySelector('.turn:nth-child(2) .status').textContent"
            ".startsWith('ran in')"
        )
    assert page.problems == []  # type: ignore[attr-defined]
