"""A real user in a real browser: the test page with the real `@hyperdx/browser` SDK
(npm, pinned) served on its own origin, and the clicks, navigations and errors that make
each of the four frustration signals exactly once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from playwright.sync_api import Page, sync_playwright

from exos_common.localkafka import free_port
from exos_common.testing.browser import CHROMIUM, CHROMIUM_ARGS

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


@contextmanager
def serving_test_page() -> Iterator[str]:
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


def record_session(page_server: str, ingest_url: str, api_key: str) -> tuple[str, list[str]]:
    """One recorded session through the SDK: its id and the page errors seen."""
    query = urlencode({"ingest": ingest_url, "key": api_key})
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
    return str(json.loads(session)["id"]), errors
