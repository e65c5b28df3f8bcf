"""The real `@hyperdx/browser` SDK (npm, pinned) in headless Chromium, pointed at ingest
across origins, through enrich and the writer as separate processes into ClickHouse."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, sync_playwright

from exos_common.localkafka import free_port
from exos_common.store import Store

from .conftest import Platform
from .replay import CHROMIUM, CHROMIUM_ARGS, replay_in_chromium, session_events

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse_server]

BROWSER_DIR = Path(__file__).parent / "browser"


class _PageHandler(SimpleHTTPRequestHandler):
    """Serves the test page and the SDK bundle; `POST /api/orders` is the app's API."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(201)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"id": 1042}')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def page_server() -> Iterator[str]:
    server = ThreadingHTTPServer(
        ("127.0.0.1", free_port()), partial(_PageHandler, directory=str(BROWSER_DIR))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def act_like_a_user(page: Page) -> None:
    page.wait_for_timeout(1500)  # recorder started, full snapshot taken
    page.click("#save")  # fetch + console.log, then the status text changes
    page.wait_for_timeout(1000)
    for _ in range(6):  # six real clicks on one button within 2 s: one rage click
        page.click("#rage")
    page.wait_for_timeout(2500)
    page.click("#dead")  # nothing changes: a dead click
    page.wait_for_timeout(1200)
    for route in ("#/a", "#/b", "#/a"):  # A -> B -> A within 10 s: one quick back
        page.evaluate("route => { location.hash = route }", route)
        page.wait_for_timeout(1500)
    page.evaluate("console.warn('low disk')")
    page.evaluate("setTimeout(() => { throw new Error('boom from e2e') }, 0)")
    page.wait_for_timeout(6500)  # the recorder exports every 5 s, traces every 4 s


def one(store: Store, sql: str, **params: Any) -> Any:
    return store.query_rows(sql, params)[0][0]


def wait_for(check: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.5)


SPANS = (
    "SELECT count() FROM otel_traces WHERE ResourceAttributes['rum.sessionId'] = {s:String} "
    "AND SpanName = {name:String}"
)


def test_hyperdx_browser_sdk_lands_in_all_three_tables_with_signals(
    platform: Platform, e2e_store: Store, page_server: str
) -> None:
    query = urlencode({"ingest": platform.ingest.url, "key": platform.api_key})
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{page_server}/page.html?{query}")
        act_like_a_user(page)
        session = page.evaluate(
            "decodeURIComponent(document.cookie.split('__rum_sid=')[1].split(';')[0])"
        )
        page.goto("about:blank")  # pagehide: the SDK flushes what it still holds
        page.wait_for_timeout(1000)
        browser.close()
    session_id = json.loads(session)["id"]
    assert errors == ["boom from e2e"]

    def spans(name: str) -> int:
        return int(one(e2e_store, SPANS, s=session_id, name=name))

    wait_for(lambda: spans("documentLoad") == 1 and spans("click") >= 16, 60, "clicks landed")
    assert spans("click") == 16  # 8 physical clicks, each sent twice by the SDK
    assert spans("HTTP POST") >= 1
    wait_for(lambda: spans("quick_back") == 1 and spans("dead_click") == 1, 60, "signals")
    wait_for(lambda: spans("rage_click") == 1, 30, "rage click")
    time.sleep(3)  # nothing more may come
    assert (spans("rage_click"), spans("dead_click"), spans("quick_back")) == (1, 1, 1)
    dead = e2e_store.query(
        "SELECT SpanAttributes AS a FROM otel_traces WHERE SpanName = 'dead_click' "
        "AND ResourceAttributes['rum.sessionId'] = {s:String}",
        {"s": session_id},
    )[0]["a"]
    assert dead["target_element"] == "BUTTON" and "dead" in dead["target_xpath"]

    visitor = e2e_store.query(
        "SELECT SpanAttributes AS a FROM otel_traces WHERE SpanName = 'documentLoad' "
        "AND ResourceAttributes['rum.sessionId'] = {s:String}",
        {"s": session_id},
    )[0]["a"]
    assert visitor["visitor.browser"] == "HeadlessChrome"  # what ua-parser calls it
    assert visitor["visitor.os"] == "Linux"
    assert visitor["visitor.ip"] == "127.0.x.x"
    assert visitor["user.email"] == "ann@example.test"

    logs = e2e_store.query(
        "SELECT SeverityText AS level, Body AS body FROM otel_logs "
        "WHERE ResourceAttributes['rum.sessionId'] = {s:String}",
        {"s": session_id},
    )
    by_level = {(row["level"], row["body"]) for row in logs}
    assert ("info", "order saved 1042") in by_level
    assert ("warn", "low disk") in by_level
    assert any(level == "error" and "boom from e2e" in body for level, body in by_level)

    snapshots = one(
        e2e_store,
        "SELECT countIf(simpleJSONExtractInt(events, 'type') = 2) FROM hyperdx_sessions "
        "WHERE session_id = {s:String}",
        s=session_id,
    )
    assert snapshots >= 1

    # The stored recording rebuilds the page in the real rrweb replayer, without errors.
    events = session_events(e2e_store, session_id)
    # DomContentLoaded, Load, Meta, then the full snapshot, as the recorder sends them
    assert [e["type"] for e in events[:4]] == [0, 1, 4, 2]
    replay = replay_in_chromium(page_server, events)
    assert replay.page_errors == []
    assert replay.events == len(events) > 10
    assert replay.replayed_html > 100
