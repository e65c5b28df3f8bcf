"""The player page in real Chromium on the hand-built sessions: the replay iframe shows
the recorded page, tab rows and the heatbar seek the player, the heatbar has the
buckets and markers worked out by hand, keyboard shortcuts, and the pages of a session
without recording, of a broken recording and of an unknown id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from live import live_servers
from playwright.sync_api import Browser, Page
from replay_fixtures import BROKEN, NO_RECORDING, SESSION, T0, SessionRows, record_page

from exos_common.store import Store
from exos_common.testing import dates
from exos_common.testing.stores import open_migrated_store

SEEK_TOLERANCE_MS = 100


@pytest.fixture(scope="module")
def replay_url(fixture_store: Store) -> Iterator[str]:
    with live_servers(fixture_store) as servers:
        yield servers.replay


def open_player(page: Page, base: str, session: str, state: str = "ready") -> None:
    page.goto(f"{base}/replay/{session}")
    page.wait_for_selector(f"body[data-state='{state}']", timeout=15_000)
    page.wait_for_selector("#heatbar[data-buckets]")  # drawn: clicks on it seek


def current_ms(page: Page) -> float:
    return float(page.evaluate("() => window.exosPlayer.replayer.getCurrentTime()"))


def test_replays_the_recorded_page_and_draws_the_heatbar(page: Page, replay_url: str) -> None:
    open_player(page, replay_url, SESSION)
    text = page.evaluate("() => window.replayer.iframe.contentDocument.body.innerText")
    assert "Fixture orders page" in text
    assert page.evaluate("() => window.replayer.iframe.getAttribute('sandbox')") is not None
    assert page.text_content("#badge") == "replay OK"
    # 1248 px wide (1280 max minus padding): 624 buckets, capped at 400 (150 ms each)
    page.wait_for_selector("#heatbar[data-buckets]")
    assert page.get_attribute("#heatbar", "data-buckets") == "400"
    markers = page.evaluate(
        "() => [...document.querySelectorAll('#heat-markers .marker')]"
        ".map(m => [m.classList[1], Number(m.dataset.bucket)])"
    )
    # 0.5 s -> 3; 12 s -> 80; 30 s -> 200; 35 s -> 233; 40 s -> 266; 40.1 s -> 267
    assert markers == [
        ["navigation", 3],
        ["error", 80],
        ["rage_click", 200],
        ["error", 233],
        ["navigation", 266],
        ["navigation", 267],
    ]
    assert page.get_attribute("#heat-area", "d").count(" C") == 399  # Catmull-Rom segments
    assert page.problems == []  # type: ignore[attr-defined]


def test_a_console_row_seeks_the_player(page: Page, replay_url: str) -> None:
    open_player(page, replay_url, SESSION)
    page.click("#tabs button[data-tab='console']")
    page.wait_for_selector("#rows tbody[data-tab='console'] tr.row")
    page.click("#rows tr.row:has-text('slow response')")
    assert abs(current_ms(page) - 25_000) <= SEEK_TOLERANCE_MS
    page.click("#rows tr.row:has-text('order saved')")
    assert abs(current_ms(page) - 15_000) <= SEEK_TOLERANCE_MS


def test_clicking_the_heatbar_seeks(page: Page, replay_url: str) -> None:
    open_player(page, replay_url, SESSION)
    box = page.locator("#heatbar").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + 24)
    assert abs(current_ms(page) - 45_000) <= SEEK_TOLERANCE_MS
    playhead = float(page.get_attribute("#playhead", "x1") or 0)
    assert abs(playhead - box["width"] * 0.75) <= 2


def test_keyboard(page: Page, replay_url: str) -> None:
    open_player(page, replay_url, SESSION)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert abs(current_ms(page) - 10_000) <= SEEK_TOLERANCE_MS
    page.keyboard.press("ArrowLeft")
    assert abs(current_ms(page) - 5_000) <= SEEK_TOLERANCE_MS
    page.keyboard.press("Space")
    assert page.text_content("#play") == "Pause"
    page.wait_for_timeout(300)
    page.keyboard.press("Space")
    assert page.text_content("#play") == "Play"
    assert current_ms(page) > 5_000
    page.keyboard.press("?")
    assert page.is_visible("#help")
    page.keyboard.press("Escape")
    assert not page.is_visible("#help")


def test_session_without_recording_shows_tabs_and_says_so(page: Page, replay_url: str) -> None:
    open_player(page, replay_url, NO_RECORDING, state="no-recording")
    assert "No recording exists for this session" in (page.text_content("#notice") or "")
    assert page.text_content("#badge") == "no recording"
    page.click("#tabs button[data-tab='console']")
    page.wait_for_selector("#rows tbody[data-tab='console'] tr.row")
    assert "no replay here" in (page.text_content("#rows") or "")
    assert page.problems == []  # type: ignore[attr-defined]


def test_broken_recording_says_why(page: Page, replay_url: str) -> None:
    open_player(page, replay_url, BROKEN, state="broken")
    notice = page.text_content("#notice") or ""
    assert "cannot be replayed" in notice and "No full snapshot" in notice
    assert page.text_content("#badge") == "replay broken"


def test_unknown_session_is_a_404_page(page: Page, replay_url: str) -> None:
    response = page.goto(f"{replay_url}/replay/no-such-session")
    assert response is not None and response.status == 404
    assert "No session no-such-session" in (page.text_content("#message") or "")


def test_opens_at_a_given_moment(page: Page, replay_url: str) -> None:
    page.goto(f"{replay_url}/replay/{SESSION}?t=30000")
    page.wait_for_selector("body[data-loaded='true']")
    page.wait_for_function("() => window.exosPlayer.replayer.getCurrentTime() > 0")
    assert abs(current_ms(page) - 30_000) <= SEEK_TOLERANCE_MS
    # `at`: an absolute time, as query-api's SessionMoment gives (T0 + 12 s, the failed POST)
    page.goto(f"{replay_url}/replay/{SESSION}?at={dates.iso(16, '11:06:52Z')}")
    page.wait_for_selector("body[data-loaded='true']")
    page.wait_for_function("() => window.exosPlayer.replayer.getCurrentTime() > 0")
    assert abs(current_ms(page) - 12_000) <= SEEK_TOLERANCE_MS


def test_events_the_player_cannot_use_are_said(browser: Browser, chdb_path: Path) -> None:
    store, settings = open_migrated_store(chdb_path, "skipped")
    rows = SessionRows("fix-skip", T0)
    record_page(rows, "Page with a cut event", 60)
    rows.replay[3][2] = '{"type":3,"data":{"source":3,'  # the first scroll, cut short
    rows.write(store)
    try:
        with live_servers(store) as servers:
            page = browser.new_page()
            page.goto(f"{servers.replay}/replay/fix-skip")
            page.wait_for_selector("body[data-loaded='true']")
            text = page.evaluate("() => window.replayer.iframe.contentDocument.body.innerText")
            assert "Page with a cut event" in text
            notice = page.text_content("#notice") or ""
            assert "1 recorded event(s) could not be replayed (not JSON" in notice
            page.close()
    finally:
        store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
        store.close()


def test_a_gap_in_the_recording_is_marked_on_the_heatbar(browser: Browser, chdb_path: Path) -> None:
    store, settings = open_migrated_store(chdb_path, "gap")
    rows = SessionRows("fix-gap", T0)
    record_page(rows, "Page with a gap", 60)
    del rows.replay[3]  # the first scroll (event 3, at 20 s) never arrived
    rows.write(store)
    try:
        with live_servers(store) as servers:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{servers.replay}/replay/fix-gap")
            page.wait_for_selector("#heat-markers .marker.gap")
            gaps = page.evaluate(
                "() => [...document.querySelectorAll('.marker.gap')].map(g => g.dataset.offsetMs)"
            )
            assert gaps == ["20500"]  # found at the next event that did arrive
            assert page.get_attribute("#badge", "data-status") == "degraded"
            assert "1 event(s) never arrived" in (page.text_content("#notice") or "")
            page.close()
    finally:
        store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
        store.close()
