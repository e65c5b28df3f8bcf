"""Product analytics endpoints on the hand-built world (analytics_world.py): every
expected number below is worked out by hand from the world's docstring."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from exos_common.testing import dates
from exos_common.testing.stores import open_migrated_store
from exos_query_api.app import create_app

sys.path.insert(0, str(Path(__file__).parent))

import analytics_world as world

PAGES = ["/inbox", "/orders/:id", "/orders/:id/scheduling"]


@pytest.fixture(scope="module")
def client(chdb_path: Path) -> Iterator[TestClient]:
    store, settings = open_migrated_store(chdb_path, "analytics")
    world.load(store)
    with TestClient(create_app(store=store)) as test_client:
        yield test_client
    store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")


def get(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params={**world.RANGE, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["queries"] and all(
        "{start:DateTime64(9)}" in q["sql"] or "system.parts" in q["sql"] for q in body["queries"]
    )
    return body


def moments(samples: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(s["session_id"], s["at"][:19]) for s in samples]


def test_overview(client: TestClient) -> None:
    body = get(client, "/api/analytics/overview")
    # 4 sessions, visitors V1 V2 V3, page views 3+1+2+3, S2 bounced (1 of 4),
    # durations 60, 5, 40, 20 s: mean 31.25, median (20+40)/2.
    assert {k: body[k] for k in ("sessions", "visitors", "pageviews")} == {
        "sessions": 4,
        "visitors": 3,
        "pageviews": 9,
    }
    assert body["bounce_rate"] == 0.25
    assert body["pageviews_per_session"] == 2.25
    assert body["avg_duration_s"] == 31.25
    assert body["median_duration_s"] == 30.0


def test_overview_filters(client: TestClient) -> None:
    firefox = get(client, "/api/analytics/overview", browser="Firefox")
    assert (firefox["sessions"], firefox["bounce_rate"], firefox["avg_duration_s"]) == (1, 1.0, 5.0)
    # Sessions that viewed /orders/:id/scheduling: S1 and S4.
    scheduling = get(client, "/api/analytics/overview", page="/orders/:id/scheduling")
    assert (scheduling["sessions"], scheduling["pageviews"]) == (2, 6)
    # Week 2 only: S3 and S4.
    week2 = client.get(
        "/api/analytics/overview", params={"from": dates.iso(7, "00:00:00Z"), "to": world.RANGE_TO}
    ).json()
    assert (week2["sessions"], week2["visitors"], week2["pageviews"]) == (2, 2, 5)


def test_top_pages(client: TestClient) -> None:
    body = get(client, "/api/analytics/pages")
    assert [(p["page"], p["pageviews"], p["sessions"], p["visitors"]) for p in body["pages"]] == [
        ("/inbox", 4, 4, 3),
        ("/orders/:id", 3, 3, 2),
        ("/orders/:id/scheduling", 2, 2, 2),
    ]
    assert len(get(client, "/api/analytics/pages", limit=1)["pages"]) == 1


def test_breakdowns(client: TestClient) -> None:
    browsers = get(client, "/api/analytics/breakdown", dimension="browser")["rows"]
    assert [(r["value"], r["sessions"], r["visitors"], r["pageviews"]) for r in browsers] == [
        ("Chrome", 3, 2, 8),
        ("Firefox", 1, 1, 1),
    ]
    assert [(r["share"], r["bounce_rate"]) for r in browsers] == [(0.75, 0.0), (0.25, 1.0)]
    countries = get(client, "/api/analytics/breakdown", dimension="country")["rows"]
    assert [(r["value"], r["sessions"]) for r in countries] == [("US", 3), ("DE", 1)]
    devices = get(client, "/api/analytics/breakdown", dimension="device")["rows"]
    assert [(r["value"], r["sessions"]) for r in devices] == [("desktop", 3), ("mobile", 1)]
    oses = get(client, "/api/analytics/breakdown", dimension="os", country="US")["rows"]
    assert [(r["value"], r["sessions"]) for r in oses] == [("macOS", 2), ("Android", 1)]


def test_journeys_from_and_to_a_page(client: TestClient) -> None:
    body = get(client, "/api/analytics/journeys", anchor="/inbox", depth=2)
    assert [(j["path"], j["sessions"]) for j in body["journeys"]] == [
        (PAGES, 2),
        (["/inbox"], 1),
        (["/inbox", "/orders/:id"], 1),
    ]
    # Samples open the replay at the anchor page view: S1 at T0, S4 at T0 + 7 d + 2 h.
    assert moments(body["journeys"][0]["samples"]) == [
        ("S1", dates.iso(0, "09:00:00")),
        ("S4", dates.iso(7, "11:00:00")),
    ]
    to = get(client, "/api/analytics/journeys", anchor="/orders/:id", direction="to", depth=1)
    assert [(j["path"], j["sessions"]) for j in to["journeys"]] == [(["/inbox", "/orders/:id"], 3)]
    assert moments(to["journeys"][0]["samples"])[0] == ("S1", dates.iso(0, "09:00:10"))


def test_page_funnel_levels_and_drop_offs(client: TestClient) -> None:
    body = get(client, "/api/analytics/funnel", steps=PAGES)
    # Levels: S1 3, S2 1, S3 2, S4 3.
    steps = body["steps"]
    assert [(s["step"], s["sessions"], s["dropped"]) for s in steps] == [
        ("/inbox", 4, 1),
        ("/orders/:id", 3, 1),
        ("/orders/:id/scheduling", 2, 0),
    ]
    assert [s["conversion_from_previous"] for s in steps] == [1.0, 0.75, 0.6667]
    assert steps[2]["conversion_from_first"] == 0.5
    # S2 stopped at /inbox (its load at T0 + 1 h); S3 at /orders/:id (+20 s).
    assert moments(steps[0]["drop_off_samples"]) == [("S2", dates.iso(0, "10:00:00"))]
    assert moments(steps[1]["drop_off_samples"]) == [("S3", dates.iso(7, "09:00:20"))]
    # A 12 s window: S4 (15 s from /inbox to scheduling) and S1 (30 s) stop at step 2;
    # S1 reaches /orders/:id 10 s after /inbox, S3 20 s after: only S1 and S4 get there.
    short = get(client, "/api/analytics/funnel", steps=PAGES, window_s=12)["steps"]
    assert [s["sessions"] for s in short] == [4, 2, 0]


def test_event_funnel(client: TestClient) -> None:
    steps = get(client, "/api/analytics/funnel", kind="event", steps=["email.read", "email.sent"])[
        "steps"
    ]
    assert [(s["sessions"], s["dropped"]) for s in steps] == [(2, 1), (1, 0)]
    assert moments(steps[0]["drop_off_samples"]) == [("S3", dates.iso(7, "09:00:10"))]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"steps": ["/inbox"]}, "2 to 10 steps"),
        ({"steps": ["/inbox", "/nowhere"]}, "/nowhere"),
        ({"steps": ["/inbox", " "]}, "empty"),
        ({"steps": ["email.read", "no.such.event"], "kind": "event"}, "no.such.event"),
        ({"steps": PAGES, "kind": "sql"}, "kind"),
        ({"steps": PAGES, "window_s": 0}, "window_s"),
        ({"steps": ["/inbox"] * 11}, "2 to 10 steps"),
    ],
)
def test_bad_funnels_get_a_422_with_the_reason(
    client: TestClient, params: dict[str, Any], reason: str
) -> None:
    response = client.get("/api/analytics/funnel", params={**world.RANGE, **params})
    assert response.status_code == 422, response.text
    assert reason in response.json()["error"]["message"]


def test_funnel_network_assigns_calls_to_steps(client: TestClient) -> None:
    body = get(client, "/api/analytics/funnel/network", steps=PAGES, slow_ms=1000)
    # After /inbox, before /orders/:id: none. At /orders/:id: GETs of S1 (120 ms), S3
    # (1500 ms, slow), S4 (100 ms). At scheduling: POSTs of S1 (503) and S4 (500).
    steps = body["steps"]
    assert [(s["calls"], s["failed"], s["slow"]) for s in steps] == [
        (0, 0, 0),
        (3, 0, 1),
        (2, 2, 0),
    ]
    # p95 of 100, 120, 1500 ms: 120 + 0.9 * 1380.
    assert steps[1]["p95_ms"] == 1362.0
    assert moments(steps[1]["samples"]) == [("S3", dates.iso(7, "09:00:21"))]
    assert steps[2]["failing_endpoints"] == ["/api/orders/:id/schedule"]
    assert moments(steps[2]["samples"]) == [
        ("S1", dates.iso(0, "09:00:31")),
        ("S4", dates.iso(7, "11:00:16")),
    ]


def test_failed_and_slow_calls_by_page(client: TestClient) -> None:
    pages = get(client, "/api/analytics/network", slow_ms=1000)["pages"]
    assert [(p["page"], p["calls"], p["failed"], p["slow"]) for p in pages] == [
        ("/orders/:id/scheduling", 2, 2, 0),
        ("/orders/:id", 3, 0, 1),
    ]
    assert pages[1]["worst_endpoints"] == ["/api/orders/:id"]
    # With a 100 ms threshold every GET is slow (100, 120, 1500) and so is the 200 ms POST.
    low = get(client, "/api/analytics/network", slow_ms=100)["pages"]
    assert [(p["page"], p["slow"]) for p in low] == [
        ("/orders/:id", 3),
        ("/orders/:id/scheduling", 1),
    ]


def test_retention_by_cohort_week(client: TestClient) -> None:
    body = get(client, "/api/analytics/retention", weeks=3)
    # Week 1: V1 and V2; V1 back in week 1. Week 2: V3.
    assert [
        (c["cohort_week"], c["visitors"], c["retained"], c["rates"]) for c in body["cohorts"]
    ] == [
        (dates.iso(0), 2, [2, 1, 0], [1.0, 0.5, 0.0]),
        (dates.iso(7), 1, [1, 0, 0], [1.0, 0.0, 0.0]),
    ]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/analytics/pages", {"limit": 100000}),
        ("/api/analytics/pages", {"limit": 0}),
        ("/api/analytics/breakdown", {"dimension": "password"}),
        ("/api/analytics/journeys", {"anchor": ""}),
        ("/api/analytics/journeys", {"anchor": "/inbox", "depth": 99}),
        ("/api/analytics/retention", {"weeks": 1000}),
        (
            "/api/analytics/overview",
            {"from": dates.iso(8, "00:00:00Z"), "to": dates.iso(-1, "00:00:00Z")},
        ),
        (
            "/api/analytics/overview",
            {"from": dates.iso(-2500, "00:00:00Z"), "to": dates.iso(-1, "00:00:00Z")},
        ),
        ("/api/analytics/overview", {"from": "yesterday"}),
    ],
)
def test_bad_parameters_get_a_422(client: TestClient, path: str, params: dict[str, Any]) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"]
