"""Demo sessions, sent as the demo loader sends them through ingest -> enrich -> writer
(in-process bus, chDB), open in the replay service's player page in real Chromium: the
replay is intact, it ends on the view the session ended on, and the summary counts
the clicks the demo made."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from exos.demo.otlp import session_headers, session_requests
from exos.demo.scenario import build_world
from exos.demo.sessions import RenderedSession, big_snapshot_session, render_session
from exos_common.store import Store
from exos_common.testing import dates
from exos_common.testing.browser import CHROMIUM, CHROMIUM_ARGS
from exos_common.testing.stores import open_migrated_store

sys.path.insert(0, str(Path(__file__).parents[2] / "services" / "replay" / "tests"))
from live import Servers, live_servers

# The latest Friday 17:00 UTC before the run (11:00 or 12:00 in Chicago): the data stays
# inside the tables' retention and its last hours are office hours, on any run date.
ANCHOR = dates.DEMO_ANCHOR
VIEW_HEADINGS = {
    "/inbox": "Inbox",
    "/orders": "Orders",
    "/dashboard": "Team dashboard",
    "/scheduling": "Inspection calendar",
}


def expected_heading(url: str) -> str:
    path = url.split(".example", 1)[1]
    return VIEW_HEADINGS.get(path) or f"Order {path.split('/')[2]}"


@pytest.fixture(scope="module")
def demo_store(chdb_path: Path) -> Iterator[Store]:
    store, settings = open_migrated_store(chdb_path, "demoreplay")
    yield store
    store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    store.close()


def send(servers: Servers, session: RenderedSession) -> None:
    headers = session_headers(session, None)
    with httpx.Client(base_url=servers.ingest, timeout=60) as client:
        for request in session_requests(session):
            extra = {"content-type": request.content_type}
            if request.content_encoding:
                extra["content-encoding"] = request.content_encoding
            response = client.post(request.path, content=request.body, headers=headers | extra)
            assert response.status_code == 200, response.text


def test_demo_sessions_replay_in_the_player(demo_store: Store) -> None:
    world = build_world(7, 0.1, ANCHOR)
    busy = [p.index for p in world.sessions if p.tasks]
    sessions = [
        render_session(world, world.sessions[i]) for i in (big_snapshot_session(world), busy[1])
    ]
    with live_servers(demo_store, with_pipeline=True) as servers:
        for session in sessions:
            send(servers, session)
        ids = [s.plan.session_id for s in sessions]
        deadline = time.monotonic() + 90
        while True:
            rows = demo_store.query(
                "SELECT SessionId, sum(ReplayChunks) AS chunks FROM replay_sessions "
                "WHERE SessionId IN {ids:Array(String)} GROUP BY SessionId",
                {"ids": ids},
            )
            expected = {s.plan.session_id: sum(1 for _ in _chunks(s)) for s in sessions}
            if {r["SessionId"]: r["chunks"] for r in rows} == expected:
                break
            assert time.monotonic() < deadline, (rows, expected)
            time.sleep(0.5)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for session in sessions:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda exc, e=errors: e.append(str(exc)))
                page.goto(f"{servers.replay}/replay/{session.plan.session_id}")
                page.wait_for_selector(
                    "body[data-state='ready'][data-loaded='true']", timeout=30_000
                )
                page.wait_for_selector("#badge[data-status]")
                assert page.get_attribute("#badge", "data-status") == "ok"
                heading = page.evaluate(
                    "() => { const p = window.exosPlayer;"
                    " p.seek(p.replayer.getMetaData().totalTime);"
                    " return p.replayer.iframe.contentDocument.querySelector('main h2')"
                    "?.textContent ?? '' }"
                )
                assert heading == expected_heading(session.navigations[-1][1])
                assert errors == []
                page.close()
            browser.close()
        detail = httpx.get(f"{servers.replay}/api/sessions/{sessions[1].plan.session_id}").json()
    made = sessions[1]
    # the demo sends every physical click as two root `click` spans at the same time
    assert detail["clicks"] == sum(1 for span in made.spans if span.name == "click") // 2
    assert detail["integrity"]["status"] == "ok"
    assert detail["page_views"] == len(made.navigations)


def _chunks(session: RenderedSession) -> Iterator[object]:
    from exos.demo.otlp import replay_chunks

    yield from replay_chunks(session)
