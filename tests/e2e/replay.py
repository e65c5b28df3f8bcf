"""Replays one session's rrweb events, as stored in `hyperdx_sessions`, in the real rrweb
Replayer (npm `rrweb`, pinned) in headless Chromium."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import sync_playwright

from exos_common.store import Store
from exos_common.testing.browser import CHROMIUM, CHROMIUM_ARGS

# Chunks in the exact order they were recorded: nanosecond time, then the recorder's
# event ordinal and chunk number (the writer keeps all three).
SESSION_EVENTS = """
SELECT events, LogAttributes['rr-web.chunk'] AS chunk, LogAttributes['rr-web.total-chunks'] AS total
FROM hyperdx_sessions
WHERE session_id = {session:String}
ORDER BY Timestamp, toUInt64OrZero(LogAttributes['rr-web.event']),
         toUInt64OrZero(LogAttributes['rr-web.chunk'])
"""


def session_events(store: Store, session_id: str) -> list[dict[str, Any]]:
    events, pending = [], ""
    for row in store.query(SESSION_EVENTS, {"session": session_id}):
        pending += row["events"]
        if not row["chunk"] or row["chunk"] == row["total"]:
            events.append(json.loads(pending))
            pending = ""
    return events


@dataclass
class ReplayResult:
    events: int
    page_errors: list[str]
    replayed_html: int  # characters of the rebuilt page's <body>


def replay_in_chromium(page_server: str, events: list[dict[str, Any]]) -> ReplayResult:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # Resources the recorded page referenced (favicon, images) may be gone: that is
        # the recorded site's business; exceptions and rrweb's own errors are ours.
        page.on(
            "console",
            lambda m: (
                errors.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource")
                else None
            ),
        )
        page.goto(f"{page_server}/replay.html")
        count = page.evaluate("events => window.replay(events)", events)
        page.wait_for_timeout(1500)
        html = page.evaluate(
            "() => window.replayer.iframe.contentDocument.body?.innerHTML.length ?? 0"
        )
        browser.close()
    return ReplayResult(count, errors, int(html))
