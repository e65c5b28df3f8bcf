"""A session recorded by the real `@hyperdx/browser` SDK (npm 0.26.0, tests/e2e/browser)
in Chromium, through ingest -> enrich -> writer (in-process bus, chDB), replays in the
player page: the iframe shows the recorded page's text, and a Console row and the
heatbar move the player to `span time - first rrweb event time` (within 100 ms).

The expected offsets are computed here from the stored rows themselves (the log's time,
the rrweb events' own `timestamp`), not from the replay API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from live import Servers, live_servers, page_server
from playwright.sync_api import Page, sync_playwright

from exos_common.store import Store
from exos_common.testing.browser import CHROMIUM, CHROMIUM_ARGS
from exos_common.testing.stores import open_migrated_store

SEEK_TOLERANCE_MS = 100


@pytest.fixture(scope="module")
def sdk_store(chdb_path: Path) -> Iterator[Store]:
    store, settings = open_migrated_store(chdb_path, "sdk")
    yield store
    store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    store.close()


@pytest.fixture(scope="module")
def servers(sdk_store: Store) -> Iterator[Servers]:
    with live_servers(sdk_store, with_pipeline=True) as running:
        yield running


def act_like_a_user(page: Page) -> None:
    page.wait_for_timeout(1500)  # recorder started, full snapshot taken
    page.click("#save")  # fetch + console.log("order saved", 1042), then "saved 201"
    page.wait_for_timeout(1500)
    for _ in range(3):
        page.click("#rage")  # adds "refresh N" items
    page.wait_for_timeout(1500)
    page.evaluate("console.warn('low disk')")
    page.wait_for_timeout(6000)  # the recorder exports every 5 s, traces every 4 s


def record_session(servers: Servers, pages: str) -> str:
    query = urlencode({"ingest": servers.ingest, "key": "replay-test"})
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{pages}/page.html?{query}")
        act_like_a_user(page)
        cookie = page.evaluate(
            "decodeURIComponent(document.cookie.split('__rum_sid=')[1].split(';')[0])"
        )
        page.goto("about:blank")  # pagehide: the SDK flushes what it still holds
        page.wait_for_timeout(1000)
        browser.close()
    return str(orjson.loads(cookie)["id"])


def wait_for(check: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.3)


def stored(store: Store, sql: str, session: str) -> list[dict[str, Any]]:
    return store.query(sql, {"s": session})


LOG_TIME = (
    "SELECT toUnixTimestamp64Nano(Timestamp) AS ns FROM otel_logs "
    "WHERE ResourceAttributes['rum.sessionId'] = {s:String} AND Body = 'order saved 1042'"
)
REPLAY_BODIES = (
    "SELECT Body AS body FROM hyperdx_sessions WHERE ResourceAttributes['rum.sessionId'] = "
    "{s:String} AND LogAttributes['rr-web.total-chunks'] IN ('', '1')"
)
SUMMARY = "SELECT sum(ReplayChunks) AS chunks FROM replay_sessions WHERE SessionId = {s:String}"


@pytest.fixture(scope="module")
def recorded(servers: Servers, sdk_store: Store) -> str:
    with page_server() as pages:
        session = record_session(servers, pages)

    def landed() -> bool:
        logs = stored(sdk_store, LOG_TIME, session)
        chunks = stored(sdk_store, SUMMARY, session)
        return bool(logs) and bool(chunks) and chunks[0]["chunks"] > 5

    wait_for(landed, 60, "the recording, its logs and its summary landed")
    time.sleep(2)  # the last replay export
    return session


def event_times_ms(store: Store, session: str) -> list[float]:
    return [
        float(orjson.loads(r["body"])["timestamp"]) for r in stored(store, REPLAY_BODIES, session)
    ]


def test_sdk_session_replays_and_rows_seek(
    servers: Servers, sdk_store: Store, recorded: str
) -> None:
    times = event_times_ms(sdk_store, recorded)
    first_event_ms, last_event_ms = min(times), max(times)
    log_ms = stored(sdk_store, LOG_TIME, recorded)[0]["ns"] / 1e6
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{servers.replay}/replay/{recorded}")
        page.wait_for_selector("body[data-state='ready'][data-loaded='true']", timeout=20_000)
        page.wait_for_selector("#heatbar[data-buckets]")
        text = page.evaluate("() => window.replayer.iframe.contentDocument.body.innerText")
        assert "Orders" in text and "Save order" in text
        assert page.text_content("#badge") == "replay OK", page.get_attribute("#badge", "title")

        page.click("#tabs button[data-tab='console']")
        page.wait_for_selector("#rows tbody[data-tab='console'] tr.row")
        page.click("#rows tr.row:has-text('order saved 1042')")
        at = float(page.evaluate("() => window.replayer.getCurrentTime()"))
        assert abs(at - (log_ms - first_event_ms)) <= SEEK_TOLERANCE_MS
        # the keyboard still drives the player after a replayed focus event (the SDK
        # recorded the button taking focus); 5 s on, the saved status shows
        page.keyboard.press("ArrowRight")
        later = page.evaluate("() => window.replayer.iframe.contentDocument.body.innerText")
        assert "saved 201" in later

        box = page.locator("#heatbar").bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + 24)
        at = float(page.evaluate("() => window.replayer.getCurrentTime()"))
        assert abs(at - 0.5 * (last_event_ms - first_event_ms)) <= SEEK_TOLERANCE_MS
        browser.close()
    assert errors == []


def test_sdk_session_integrity_and_summary(
    servers: Servers, sdk_store: Store, recorded: str
) -> None:
    detail = httpx.get(f"{servers.replay}/api/sessions/{recorded}").json()
    assert detail["integrity"]["status"] == "ok", detail["integrity"]["reasons"]
    assert detail["integrity"]["full_snapshot"] is True
    # The SDK stamps records with `ms * 1e6` in JavaScript doubles (e.g. ...750000128 ns),
    # so the stored time and the event's own ms agree to well under a millisecond.
    assert abs(detail["offset_base_ns"] / 1e6 - min(event_times_ms(sdk_store, recorded))) < 0.01
    assert detail["clicks"] == 4  # one save + three refreshes (each sent as two spans)
    assert detail["identity"]["email"] == "ann@example.test"
    assert detail["visitor"]["browser"] == "HeadlessChrome"
    console = httpx.get(f"{servers.replay}/api/sessions/{recorded}/tabs/console").json()
    assert {"order saved 1042", "low disk"} <= {r["message"] for r in console["rows"]}
