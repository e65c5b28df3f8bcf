"""The real `@hyperdx/browser` SDK (npm, pinned) in headless Chromium, pointed at ingest
across origins, through enrich and the writer as separate processes into ClickHouse."""

from __future__ import annotations

import time
from typing import Any

import pytest

from exos_common.store import Store

from .conftest import Platform
from .replay import replay_in_chromium, session_events
from .sdk_session import record_session

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse_server]


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
    session_id, errors = record_session(page_server, platform.ingest.url, platform.api_key)
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
