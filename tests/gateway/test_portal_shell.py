"""The portal's shell without data, in Chromium: with the read services unreachable
every view shows its error (naming the service) instead of hanging; with
EXOS_GATEWAY_INSTRUMENT on, the pages send their own telemetry with the HyperDX SDK to
the configured ingest URL and key, and without it they load no SDK at all. Plus the
server side of the pages: layout, banner, docs, assets, and the config behind auth."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

from exos_common.localkafka import free_port
from exos_common.testing.servers import serve_in_thread
from exos_gateway.app import create_app
from exos_gateway.pages import PAGES
from exos_gateway.settings import GatewaySettings

BANNER = "Open on localhost, no login"
VIEWS_PER_PAGE = {"/": 1, "/process-mining": 2, "/sessions": 1, "/analytics": 7, "/site-health": 5}


def unreachable() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


def test_every_view_shows_the_error_when_the_services_are_down(browser: Browser) -> None:
    settings = GatewaySettings(
        gateway_auth="none",
        query_api_url=unreachable(),
        replay_url=unreachable(),
        insights_url=unreachable(),
    )
    page = browser.new_page()
    with serve_in_thread(create_app(settings, banner=BANNER)) as base:
        for path, expected in VIEWS_PER_PAGE.items():
            page.goto(base + path)
            page.wait_for_function(
                "n => document.querySelectorAll('[data-state=error]').length === n", arg=expected
            )
            message = page.locator("[data-state=error] .state.error").first.inner_text()
            assert "502" in message, message
            assert ("query-api" in message) or ("replay" in message), message
            expect(page.locator("#banner")).to_have_text(BANNER)
            # Retry asks again (and fails the same way, still not stuck loading).
            page.locator("[data-state=error] button", has_text="Retry").first.click()
            page.wait_for_function(
                "n => document.querySelectorAll('[data-state=error]').length === n", arg=expected
            )
    page.close()


def test_a_time_range_without_data_shows_empty_views(browser: Browser) -> None:
    """Empty answers (no rows) read as empty, not as zeros: a stub query-api answers
    the analytics endpoints with nothing in range."""
    stub = FastAPI()

    @stub.get("/api/analytics/{rest:path}")
    async def nothing(rest: str) -> dict[str, object]:
        shapes: dict[str, dict[str, object]] = {
            "overview": {"sessions": 0, "visitors": 0, "pageviews": 0},
            "pages": {"pages": []},
            "breakdown": {"dimension": "browser", "rows": []},
            "network": {"slow_ms": 1000, "pages": []},
            "retention": {"weeks": 6, "cohorts": []},
        }
        return {**shapes.get(rest, {}), "queries": []}

    page = browser.new_page()
    with serve_in_thread(stub) as upstream:
        settings = GatewaySettings(gateway_auth="none", query_api_url=upstream)
        with serve_in_thread(create_app(settings)) as base:
            page.goto(base + "/analytics")
            # A function, not a bare expression: Playwright evaluates the latter with
            # eval, which the portal's Content-Security-Policy refuses.
            page.wait_for_function(
                "() => document.querySelectorAll('[data-state=loading]').length === 0"
            )
            found = page.eval_on_selector_all(
                "[data-view]", "els => els.map(e => [e.dataset.view, e.dataset.state])"
            )
            assert dict(found) == {
                "overview": "empty",
                "top-pages": "empty",
                "breakdown": "empty",
                "journeys": "empty",
                "page-funnel": "empty",
                "calls-by-page": "empty",
                "retention": "empty",
            }
            assert page.locator(".state.empty").first.inner_text().startswith("No data")
    page.close()


class Ingest:
    """Records what the portal's SDK sends to OTLP/HTTP."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        self.lock = threading.Lock()
        self.app = FastAPI()

        @self.app.post("/v1/{signal}")
        async def receive(signal: str, request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.requests.append((signal, request.headers.get("authorization", ""), body))
            return Response(status_code=200)

        @self.app.options("/v1/{signal}")
        async def preflight(signal: str) -> Response:
            return Response(status_code=204)

        @self.app.middleware("http")
        async def cors(request: Request, call_next):  # type: ignore[no-untyped-def]
            answer = await call_next(request)
            answer.headers["access-control-allow-origin"] = request.headers.get("origin", "*")
            answer.headers["access-control-allow-headers"] = "*"
            answer.headers["access-control-allow-methods"] = "POST, OPTIONS"
            answer.headers["access-control-allow-credentials"] = "true"
            return answer


def test_pages_instrument_themselves_when_enabled(browser: Browser) -> None:
    ingest = Ingest()
    with serve_in_thread(ingest.app) as ingest_url:
        settings = GatewaySettings(
            gateway_auth="none",
            gateway_instrument=True,
            gateway_instrument_url=ingest_url,
            gateway_instrument_api_key="portal-key",
            query_api_url=unreachable(),
        )
        page = browser.new_page()
        with serve_in_thread(create_app(settings)) as base:
            page.goto(base + "/analytics")
            assert page.evaluate("typeof window.exosTelemetry") == "object"
            page.click("#time-button")
            page.keyboard.press("Escape")
            page.goto(base + "/guide")  # leaving the page flushes the SDK's batch
            page.wait_for_timeout(500)
            page.goto(base + "/")
            deadline = 30_000
            while deadline > 0:
                with ingest.lock:
                    traces = [r for r in ingest.requests if r[0] == "traces"]
                if traces:
                    break
                page.wait_for_timeout(500)
                deadline -= 500
        page.close()
    assert traces, "the portal sent no traces"
    _, authorization, body = traces[0]
    assert authorization == "portal-key"
    assert b"exos-portal" in body  # service.name of the portal's resource


def test_pages_load_no_sdk_when_instrumentation_is_off() -> None:
    with TestClient(create_app(GatewaySettings(gateway_auth="none"))) as client:
        for path in PAGES:
            text = client.get(path).text
            assert "hyperdx" not in text and "instrument.js" not in text
            assert '"instrument": null' in text


def test_layout_banner_docs_and_assets(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "01-first.md").write_text("# First doc\n\nAbout <script>x</script> things.\n")
    (docs / "02-second.md").write_text("# Second\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    settings = GatewaySettings(gateway_auth="none", gateway_docs_dir=docs)
    with TestClient(create_app(settings, banner="A <b>banner</b>"), follow_redirects=False) as c:
        for path, page in PAGES.items():
            answer = c.get(path, params={"page": "/inbox"})  # a filter named like a word
            assert answer.status_code == 200, path
            assert f"<title>{page.title} · EXOS Analytics</title>" in answer.text
            assert "A &lt;b&gt;banner&lt;/b&gt;" in answer.text
            assert '<header id="shell">' in answer.text
        index = c.get("/guide").text
        assert '<a href="/guide/first">First doc</a>' in index
        assert '<a href="/guide/second">Second</a>' in index
        first = c.get("/guide/first").text
        assert "&lt;script&gt;" in first and "<script>x" not in first
        assert "<table>" in c.get("/guide/second").text
        assert c.get("/guide/missing").status_code == 404
        assert c.get("/docs").headers["location"] == "/guide"
        assert c.get("/assets/portal.js").headers["content-type"].startswith("text/javascript")
        assert c.get("/assets/home.html").status_code == 404  # fragments are not assets
        assert c.get("/assets/..%2Fpages.py").status_code == 404
        assert c.get("/assets/vendor/chart.js").status_code == 200
        missing = c.get("/assets/vendor/left-pad.js")
        assert missing.status_code == 404
        assert c.get("/portal/config.json").json()["banner"] == "A <b>banner</b>"


def test_pages_and_config_need_a_sign_in_when_auth_is_on() -> None:
    settings = GatewaySettings(
        gateway_tokens="t0ken", gateway_instrument=True, gateway_cookie_secure=False
    )
    with TestClient(create_app(settings), follow_redirects=False) as c:
        for path in [*PAGES, "/guide"]:
            answer = c.get(path, headers={"accept": "text/html"})
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
        assert c.get("/portal/config.json").status_code == 401
        assert c.get("/assets/portal.css").status_code == 200  # the login page's styles
        # A bearer token has no session to end: no sign-out button, no CSRF token.
        bearer = c.get("/portal/config.json", headers={"authorization": "Bearer t0ken"})
        assert bearer.status_code == 200
        assert bearer.json()["signOut"] is False and bearer.json()["csrf"] is None
        c.post("/auth/login", data={"token": "t0ken", "next": "/"})
        signed = c.get("/portal/config.json")
        assert signed.status_code == 200 and signed.json()["signOut"] is True
        assert len(signed.json()["csrf"]) >= 32
        page = c.get("/", headers={"authorization": "Bearer t0ken"}).text
        assert "/assets/vendor/hyperdx.js" in page


def test_a_service_page_gets_the_shell_and_banner_with_two_tags(browser: Browser) -> None:
    """What Ask AI (insights' own page at /ask) needs to sit in the portal shell: the
    shell's stylesheet and module; the banner comes from /portal/config.json."""
    insights = FastAPI()

    @insights.get("/ask")
    async def ask_page() -> Response:
        return Response(
            '<!doctype html><html><head><link rel="stylesheet" href="/assets/shell.css">'
            '<script type="module" src="/assets/portal.js"></script></head>'
            '<body><header id="shell"></header><main><h1>Ask AI</h1></main></body></html>',
            media_type="text/html",
        )

    page = browser.new_page()
    with serve_in_thread(insights) as upstream:
        settings = GatewaySettings(gateway_auth="none", insights_url=upstream)
        with serve_in_thread(create_app(settings, banner=BANNER)) as base:
            page.goto(base + "/ask?from=2026-01-01T00:00:00Z")
            expect(page.locator("#banner")).to_have_text(BANNER)
            expect(page.locator('#shell a[data-nav="i"]')).to_have_attribute("aria-current", "page")
            href = page.locator('#shell a[data-nav="p"]').get_attribute("href")
            assert href == "/process-mining?from=2026-01-01T00%3A00%3A00Z"
            page.keyboard.press("?")
            expect(page.locator("#shortcuts")).to_be_visible()
            page.keyboard.press("Escape")
            page.keyboard.press("g")
            page.keyboard.press("h")
            expect(page).to_have_url(f"{base}/?from=2026-01-01T00%3A00%3A00Z")
    page.close()
