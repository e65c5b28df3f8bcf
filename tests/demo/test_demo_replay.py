"""The demo's rrweb recordings replay in the real rrweb Replayer (npm `rrweb`, pinned in
tests/e2e/browser) in headless Chromium: no errors, and the rebuilt page ends on the
view the session ended on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.sync_api import sync_playwright

from exos.demo.scenario import build_world
from exos.demo.sessions import big_snapshot_session, render_session
from exos_common.testing import dates
from exos_common.testing.browser import CHROMIUM, CHROMIUM_ARGS

BROWSER_DIR = Path(__file__).parents[1] / "e2e" / "browser"
# The latest Friday 17:00 UTC before the run (11:00 or 12:00 in Chicago): the data stays
# inside the tables' retention and its last hours are office hours, on any run date.
ANCHOR = dates.DEMO_ANCHOR


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *_: Any) -> None:
        pass


VIEW_HEADINGS = {
    "/inbox": "Inbox",
    "/orders": "Orders",
    "/dashboard": "Team dashboard",
    "/scheduling": "Inspection calendar",
}


def expected_heading(url: str) -> str:
    path = url.split(".example", 1)[1]
    if path in VIEW_HEADINGS:
        return VIEW_HEADINGS[path]
    return f"Order {path.split('/')[2]}"  # /orders/ORD-.../...


@pytest.fixture(scope="module")
def page_server() -> Iterator[str]:
    handler = partial(_QuietHandler, directory=str(BROWSER_DIR))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_recordings_replay_without_errors_and_end_on_the_last_view(page_server: str) -> None:
    world = build_world(7, 0.1, ANCHOR)
    busy = [p.index for p in world.sessions if p.tasks]
    picked = [big_snapshot_session(world), *busy[1:4]]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for index in picked:
            session = render_session(world, world.sessions[index])
            events = orjson.loads(orjson.dumps(session.rrweb_events))
            page = browser.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda exc, p=problems: p.append(str(exc)))
            page.on(
                "console",
                lambda m, p=problems: (
                    p.append(m.text)
                    if m.type in ("error", "warning")
                    and not m.text.startswith("Failed to load resource")
                    else None
                ),
            )
            page.goto(f"{page_server}/replay.html")
            page.evaluate("events => { window.replay(events); window.replayer.pause(0); }", events)
            end = events[-1]["timestamp"] - events[0]["timestamp"]
            heading = page.evaluate(
                "t => { window.replayer.pause(t);"
                " return window.replayer.iframe.contentDocument.querySelector('main h2')"
                "?.textContent ?? '' }",
                end,
            )
            page.close()
            assert problems == [], (index, problems[:3])
            assert heading == expected_heading(session.navigations[-1][1])
        browser.close()
