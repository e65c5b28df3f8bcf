"""The portal in real Chromium on the demo data (`exos up --demo` at a reduced scale, a
separate process): every page and view shows data, and what it shows is what the API
and ClickHouse say; the time range and a filter change the URL and refetch; a session
opens its replay from the list and from a process-mining sample; Ask AI answers against
a local model server; the shortcuts work; "SQL" shows what a view ran. Screenshots of
every page go to artifacts/portal/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from exos_common.testing.fake_llm import FakeLLM

from .portal_platform import ARTIFACTS, DemoPlatform

SCALE = 0.1
READY = (
    "() => document.querySelectorAll('[data-view]').length > 0"
    " && document.querySelectorAll('[data-state=loading]').length === 0"
)
OPERATORS_SQL = (
    "SELECT SpanAttributes['operator.name'] AS operator, "
    "uniqExact(SpanAttributes['order.id']) AS orders FROM otel_traces "
    "WHERE SpanAttributes['order.id'] != '' AND SpanAttributes['operator.name'] != '' "
    "GROUP BY operator ORDER BY orders DESC, operator"
)


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, llm: FakeLLM) -> Iterator[DemoPlatform]:
    folder = tmp_path_factory.mktemp("portal")
    platform = DemoPlatform(
        folder / "data",
        scale=SCALE,
        env={
            "EXOS_OPENAI_BASE_URL": llm.base_url,
            "EXOS_OPENAI_API_KEY": "test-key",
            "EXOS_OPENAI_MAX_RETRIES": "0",
        },
    )
    try:
        platform.start()
        yield platform
    finally:
        platform.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # What the gateway's Content-Security-Policy blocked is a console message, not a
    # page error: a portal that needs more than the policy allows fails here.
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    yield page
    page.close()
    assert errors == [], errors


def api(demo: DemoPlatform, path: str, **params: object) -> dict:  # type: ignore[type-arg]
    answer = httpx.get(f"{demo.portal}{path}", params=params, timeout=60)  # type: ignore[arg-type]
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


def open_page(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_function(READY, timeout=60_000)


def states(page: Page) -> dict[str, str]:
    found: dict[str, str] = page.eval_on_selector_all(
        "[data-view]",
        "els => Object.fromEntries(els.map(e => [e.dataset.view, e.dataset.state]))",
    )
    return found


def kpi(page: Page, view: str, key: str) -> str:
    return page.locator(f'[data-view="{view}"] [data-kpi="{key}"] dd').inner_text()


def number(text: str) -> float:
    return float(re.sub(r"[^0-9.\-]", "", text))


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def rows(page: Page, view: str) -> int:
    return page.locator(f'[data-view="{view}"] table.data tbody tr').count()


# ---------------------------------------------------------------- every page shows data


def test_home_shows_where_to_send_data_and_what_is_loaded(page: Page, demo: DemoPlatform) -> None:
    open_page(page, demo.portal + "/")
    shoot(page, "home")
    assert states(page) == {"quick-start": "ready", "stats": "ready"}
    expect(page.locator("#banner")).to_contain_text("no login")
    expect(page.locator("#otlp-url")).to_have_text(f"http://127.0.0.1:{demo.ports['otlp']}")
    spans = demo.count("SELECT count() FROM otel_traces")
    table = page.locator('[data-view="stats"] table.data tbody tr', has_text="otel_traces")
    assert number(table.locator("td").nth(1).inner_text()) == spans


def test_process_mining_views_show_data(page: Page, demo: DemoPlatform) -> None:
    open_page(page, demo.portal + "/process-mining")
    shoot(page, "process-mining-operators")
    assert states(page) == {"operators": "ready", "automation": "ready"}
    operators = api(demo, "/api/process/operators", limit=20)
    assert number(kpi(page, "operators", "operators")) == operators["total_operators"] > 0
    assert number(kpi(page, "operators", "events")) == operators["total_events"]
    assert rows(page, "operators") == len(operators["operators"])
    assert page.locator('[data-view="operators"] canvas').count() == 1

    lifecycle = {
        "sequences": "variants",
        "bottlenecks": "bottlenecks",
        "funnels": "funnel",
        "conformance": "conformance",
        "rework": "rework",
        "anomalies": "anomalies",
    }
    for mode, view in lifecycle.items():
        open_page(page, f"{demo.portal}/process-mining?view=lifecycle&mode={mode}")
        shoot(page, f"process-mining-{mode}")
        assert states(page) == {view: "ready"}, mode
        assert rows(page, view) > 0, mode
        # Each view offers the replay of a session behind a row, at its moment.
        replay = page.locator(f'[data-view="{view}"] a.replay[href*="?at="]')
        assert replay.count() > 0, mode
        assert re.fullmatch(r"/replay/[0-9a-f]+\?at=.+", replay.first.get_attribute("href") or "")
    variants = api(demo, "/api/process/variants", limit=10)
    open_page(page, f"{demo.portal}/process-mining?view=lifecycle&mode=sequences")
    assert number(kpi(page, "variants", "cases")) == variants["total_cases"] > 0
    assert page.locator("[data-narrative]").inner_text() == variants["narrative"]
    open_page(page, f"{demo.portal}/process-mining?view=lifecycle&mode=bottlenecks")
    assert page.locator('[data-view="bottlenecks"] canvas').count() == 1

    # Cases can be sessions' page flows instead of orders.
    open_page(page, f"{demo.portal}/process-mining?view=lifecycle&mode=sequences&over=pages")
    pages = api(demo, "/api/process/variants", limit=10, over="pages")
    assert page.locator("select[name=over]").input_value() == "pages"
    assert number(kpi(page, "variants", "cases")) == pages["total_cases"] > 0
    assert rows(page, "variants") == len(pages["variants"])

    open_page(page, f"{demo.portal}/process-mining?view=map")
    shoot(page, "process-mining-map")
    graph = api(demo, "/api/process/map", limit=25)
    assert page.locator("svg.process-map g.node").count() == len(graph["nodes"]) > 0
    assert page.locator("svg.process-map g.edge").count() == len(graph["edges"])

    open_page(page, f"{demo.portal}/process-mining?view=ocpm")
    shoot(page, "process-mining-ocpm")
    assert set(states(page).values()) == {"ready"}
    assert set(states(page)) == {
        "ocpm-categories",
        "ocpm-interactions",
        "ocpm-lifecycle",
        "ocpm-handoffs",
        "ocpm-vendors",
        "ocpm-export",
    }
    assert rows(page, "ocpm-categories") == len(api(demo, "/api/ocpm/categories")["categories"])
    assert rows(page, "ocpm-vendors") == len(api(demo, "/api/ocpm/vendors")["vendors"]) > 0


def test_sessions_analytics_site_health_and_docs_show_data(page: Page, demo: DemoPlatform) -> None:
    open_page(page, demo.portal + "/sessions")
    shoot(page, "sessions")
    listed = api(demo, "/api/sessions", limit=50)
    assert states(page) == {"sessions": "ready"}
    assert rows(page, "sessions") == len(listed["sessions"]) > 0
    expect(page.locator("[data-total]")).to_have_attribute("data-total", str(listed["total"]))
    page.click('[data-view="sessions"] button.sql')
    shown = page.locator("#sql-dialog pre.sql").all_inner_texts()
    assert shown == [q["sql"] for q in listed["queries"]] and shown
    page.keyboard.press("Escape")

    open_page(page, demo.portal + "/analytics")
    shoot(page, "analytics")
    assert set(states(page).values()) == {"ready"}
    assert len(states(page)) == 7
    overview = api(demo, "/api/analytics/overview")
    assert number(kpi(page, "overview", "sessions")) == overview["sessions"]
    assert overview["sessions"] == demo.count("SELECT uniqExact(SessionId) FROM session_summary")
    assert page.locator('[data-view="breakdown"] canvas').count() == 1
    assert page.locator('[data-view="top-pages"] ol.bars li').count() > 0

    open_page(page, demo.portal + "/site-health")
    shoot(page, "site-health")
    assert set(states(page).values()) == {"ready"}
    assert len(states(page)) == 5
    http = api(demo, "/api/site-health/http")
    assert number(kpi(page, "http", "calls")) == http["calls"] > 0
    assert rows(page, "http") == len(http["endpoints"])
    assert page.locator('[data-view="errors"] canvas').count() == 1

    page.goto(demo.portal + "/guide")
    shoot(page, "docs")
    assert page.locator("ul.doc-list li").count() >= 4
    page.click("text=Query cookbook")
    expect(page).to_have_url(re.compile(r"/guide/query-cookbook$"))
    expect(page.locator("article.doc h1")).to_have_text("Query cookbook")
    assert "sequenceMatch" in page.locator("article.doc").inner_text()
    shoot(page, "docs-cookbook")


# ---------------------------------------------------------------- URL state


def test_time_range_and_filter_are_kept_in_the_url_and_refetch(
    page: Page, demo: DemoPlatform
) -> None:
    open_page(page, demo.portal + "/analytics")
    total = number(kpi(page, "overview", "sessions"))

    # A filter from the shell: only sessions that viewed /inbox.
    page.select_option("select[name=filter-key]", "page")
    page.wait_for_selector('#filter-suggestions option[value="/inbox"]', state="attached")
    page.fill("#filter-value", "/inbox")
    with page.expect_request(lambda r: "/api/analytics/overview" in r.url and "page=" in r.url):
        page.click("text=Add filter")
    page.wait_for_function(READY)
    assert parse_qs(urlsplit(page.url).query)["page"] == ["/inbox"]
    on_inbox = api(demo, "/api/analytics/overview", page="/inbox")["sessions"]
    assert number(kpi(page, "overview", "sessions")) == on_inbox
    assert 0 < on_inbox < total
    expect(page.locator('#shell [data-filter="page"]')).to_contain_text("/inbox")

    # The time picker: a custom range of the demo's first days.
    first = demo.count("SELECT toUnixTimestamp(min(Started)) FROM session_summary")
    start = first - 3600
    end = first + 4 * 86400
    page.keyboard.press("t")
    picker = page.locator("#time-picker")
    expect(picker).to_be_visible()
    page.evaluate(
        """([start, end]) => {
            // datetime-local wants the browser's local time.
            const local = (s) => new Date(s * 1000 - new Date(s * 1000).getTimezoneOffset() * 60000)
                .toISOString().slice(0, 16);
            document.querySelector('#time-picker input[name=from]').value = local(start);
            document.querySelector('#time-picker input[name=to]').value = local(end);
        }""",
        [start, end],
    )
    with page.expect_request(lambda r: "/api/analytics/overview" in r.url and "from=" in r.url):
        picker.locator("button[type=submit]").click()
    page.wait_for_function(READY)
    query = parse_qs(urlsplit(page.url).query)
    assert query["page"] == ["/inbox"]  # the filter stays
    window = {"from": query["from"][0], "to": query["to"][0]}
    windowed = api(demo, "/api/analytics/overview", page="/inbox", **window)
    assert number(kpi(page, "overview", "sessions")) == windowed["sessions"]
    assert windowed["sessions"] < on_inbox

    # Moving to another page keeps the range and the filter.
    page.click('#shell a[data-nav="w"]')
    page.wait_for_function(READY)
    moved = parse_qs(urlsplit(page.url).query)
    assert moved["from"] == query["from"] and moved["page"] == ["/inbox"]
    # Back restores the previous state.
    page.go_back()
    page.wait_for_function(READY)
    assert parse_qs(urlsplit(page.url).query)["from"] == query["from"]


# ---------------------------------------------------------------- replay links


def test_a_session_opens_its_replay_from_the_list(page: Page, demo: DemoPlatform) -> None:
    open_page(page, demo.portal + "/sessions")
    first = page.locator('[data-view="sessions"] tbody tr').first
    session_id = first.locator("a.replay").get_attribute("data-session")
    assert session_id
    first.locator("td").first.click()
    expect(page).to_have_url(f"{demo.portal}/replay/{session_id}")
    expect(page.locator("body")).to_have_attribute("data-session", session_id)
    expect(page.locator("body")).not_to_have_attribute("data-state", "loading", timeout=30_000)
    shoot(page, "replay-from-list")


def test_a_bottleneck_sample_opens_the_replay_at_that_moment(
    page: Page, demo: DemoPlatform
) -> None:
    open_page(page, f"{demo.portal}/process-mining?view=lifecycle&mode=bottlenecks")
    slowest = api(demo, "/api/process/bottlenecks", limit=15)["bottlenecks"][0]["samples"][0]
    link = page.locator('[data-view="bottlenecks"] tbody tr').first.locator("a.replay")
    link.click()
    url = urlsplit(page.url)
    assert url.path == f"/replay/{slowest['session_id']}"
    at = parse_qs(url.query)["at"][0]
    assert at.rstrip("Z").startswith(slowest["at"][:19])
    # The player stands at that moment: offset from its first rrweb event.
    page.wait_for_function("() => window.replayer && document.body.dataset.loaded === 'true'")
    detail = api(demo, f"/api/sessions/{slowest['session_id']}")
    moment_ms = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() * 1000
    total = page.evaluate("window.replayer.getMetaData().totalTime")
    wanted = min(max(0.0, moment_ms - detail["offset_base_ns"] / 1e6), total)
    assert abs(page.evaluate("window.replayer.getCurrentTime()") - wanted) < 1000
    shoot(page, "replay-from-bottleneck")


def test_an_operator_row_filters_process_mining(page: Page, demo: DemoPlatform) -> None:
    open_page(page, demo.portal + "/process-mining")
    everyone = api(demo, "/api/process/operators", limit=20)
    second = everyone["operators"][1]
    with page.expect_request(lambda r: "operator=" in r.url and "/api/process/" in r.url):
        page.locator('[data-view="operators"] tbody tr').nth(1).click()
    page.wait_for_function(READY)
    assert parse_qs(urlsplit(page.url).query)["operator"] == [second["operator_id"]]
    expect(page.locator('#shell [data-filter="operator"]')).to_contain_text(second["operator_id"])
    alone = api(demo, "/api/process/operators", limit=20, operator=second["operator_id"])
    assert number(kpi(page, "operators", "events")) == alone["total_events"]
    assert alone["total_events"] < everyone["total_events"]
    # The filter follows to the lifecycle views.
    page.keyboard.press("1")
    page.wait_for_function(READY)
    variants = api(demo, "/api/process/variants", limit=10, operator=second["operator_id"])
    assert number(kpi(page, "variants", "cases")) == variants["total_cases"]


# ---------------------------------------------------------------- show SQL


def test_show_sql_lists_the_statements_a_view_ran(page: Page, demo: DemoPlatform) -> None:
    open_page(page, demo.portal + "/process-mining?view=lifecycle&mode=conformance")
    ran = api(demo, "/api/process/conformance")["queries"]
    page.click('[data-view="conformance"] button.sql')
    dialog = page.locator("#sql-dialog")
    expect(dialog).to_be_visible()
    shown = dialog.locator("pre.sql").all_inner_texts()
    assert shown == [q["sql"] for q in ran]
    assert "sequenceMatch" in "".join(shown)
    expect(dialog.locator("table.params").first).to_contain_text("start")
    # With the values inlined, each statement re-runs as is and gives the same rows.
    runnable = dialog.locator("pre.runnable").all_text_contents()
    assert len(runnable) == len(ran)
    for statement, query in zip(runnable, ran, strict=True):
        assert "{" not in statement.replace("{}", "")
        answer = httpx.post(
            demo.clickhouse, content=statement + " FORMAT JSONCompact", auth=demo.clickhouse_auth
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["rows"] == query["rows"]
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)


# ---------------------------------------------------------------- Ask AI


def test_ask_ai_answers_a_question_from_the_portal(
    page: Page, demo: DemoPlatform, llm: FakeLLM
) -> None:
    llm.expect(
        {
            "sql": OPERATORS_SQL,
            "explanation": "Distinct orders per operator.",
            "title": "Orders per operator",
            "chart": {"kind": "bar", "x": "operator", "y": ["orders"]},
        }
    )
    llm.expect({"narrative": "Caleb handles the most orders."})
    open_page(page, demo.portal + "/")
    page.click('#shell a[data-nav="i"]')
    expect(page).to_have_url(f"{demo.portal}/ask")
    page.wait_for_selector("#cookbook li")
    page.fill("#question", "Which operators handle the most orders?")
    page.click("#ask-button")
    page.wait_for_selector(".turn:nth-child(1) .table-box table", timeout=60_000)
    shown = page.eval_on_selector_all(
        ".turn:nth-child(1) .table-box tbody tr",
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))",
    )
    answer = httpx.get(
        demo.clickhouse,
        params={"query": OPERATORS_SQL + " FORMAT TSV"},
        auth=demo.clickhouse_auth,
    )
    expected = [line.split("\t") for line in answer.text.strip().splitlines()]
    assert shown == expected and expected
    expect(page.locator(".turn:nth-child(1) .narrative")).to_have_text(
        "Caleb handles the most orders."
    )
    assert llm.failures == [] and llm.pending == 0
    shoot(page, "ask-ai")


# ---------------------------------------------------------------- keyboard


def test_shortcuts_overlay_navigation_and_page_keys(page: Page, demo: DemoPlatform) -> None:
    since = (datetime.now(UTC) - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    open_page(page, f"{demo.portal}/process-mining?from={since}")
    page.keyboard.press("?")
    overlay = page.locator("#shortcuts")
    expect(overlay).to_be_visible()
    text = overlay.inner_text()
    for listed in ("Go to Sessions", "Choose the time range", "Focus the filter", "Next section"):
        assert listed in text
    shoot(page, "shortcuts")
    page.keyboard.press("Escape")
    expect(overlay).to_have_count(0)

    page.keyboard.press("]")  # next section
    expect(page).to_have_url(re.compile(r"view=lifecycle"))
    page.keyboard.press("2")  # Order Lifecycle: Bottlenecks
    expect(page).to_have_url(re.compile(r"mode=bottlenecks"))
    page.wait_for_function(READY)
    assert states(page) == {"bottlenecks": "ready"}

    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "filter-value"
    page.keyboard.press("Escape")
    page.keyboard.press("t")
    expect(page.locator("#time-picker")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#time-picker")).to_have_count(0)

    page.keyboard.press("g")
    page.keyboard.press("s")
    expect(page).to_have_url(re.compile(r"/sessions\?from=" + re.escape(since.replace(":", "%3A"))))
    page.wait_for_function(READY)
    page.keyboard.press("j")
    page.keyboard.press("j")
    second = page.locator('[data-view="sessions"] tbody tr').nth(1)
    expect(second).to_have_class(re.compile("selected"))
    session_id = second.locator("a.replay").get_attribute("data-session")
    page.keyboard.press("o")
    expect(page).to_have_url(f"{demo.portal}/replay/{session_id}")
