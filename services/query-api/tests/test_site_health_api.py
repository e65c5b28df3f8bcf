"""Site health endpoints on the hand-built world (analytics_world.py); the expected
numbers are worked out by hand from the world's docstring."""

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


@pytest.fixture(scope="module")
def client(chdb_path: Path) -> Iterator[TestClient]:
    store, settings = open_migrated_store(chdb_path, "health")
    world.load(store)
    with TestClient(create_app(store=store)) as test_client:
        yield test_client
    store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")


def get(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params={**world.RANGE, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["queries"] and all(q["parameters"]["start"] for q in body["queries"])
    return body


def moments(samples: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(s["session_id"], s["at"][:19]) for s in samples]


def test_error_rate_by_day(client: TestClient) -> None:
    body = get(client, "/api/site-health/errors")
    # Week 1 Monday: S1 (12 spans) and S2 (5 spans, one onerror). Week 2 Monday: S3 (7 spans, one
    # console.error) and S4 (10 spans, two console.error).
    assert body["bucket"] == "day"
    assert [
        (
            p["bucket"][:10],
            p["spans"],
            p["errors"],
            p["sessions"],
            p["error_sessions"],
            p["error_rate"],
        )
        for p in body["series"]
    ] == [(dates.iso(0), 17, 1, 2, 1, 0.5), (dates.iso(7), 17, 3, 2, 2, 1.0)]
    assert (body["errors"], body["sessions"], body["error_sessions"], body["error_rate"]) == (
        4,
        4,
        3,
        0.75,
    )
    hourly = get(client, "/api/site-health/errors", bucket="hour", country="US")
    # US sessions: S1 (9:00 week 1 Monday), S3 (9:00 week 2 Monday), S4 (11:00 week 2 Monday).
    assert [(p["bucket"][:13], p["errors"]) for p in hourly["series"]] == [
        (dates.iso(0, "09"), 0),
        (dates.iso(7, "09"), 1),
        (dates.iso(7, "11"), 2),
    ]


def test_hourly_buckets_over_a_long_range_get_a_422(client: TestClient) -> None:
    response = client.get(
        "/api/site-health/errors",
        params={
            "from": dates.iso(-305, "00:00:00Z"),
            "to": dates.iso(18, "00:00:00Z"),
            "bucket": "hour",
        },
    )
    assert response.status_code == 422
    assert "31 days" in response.json()["error"]["message"]


def test_web_vitals_p75_and_bands(client: TestClient) -> None:
    body = get(client, "/api/site-health/web-vitals")
    rows = [(v["page"], v["metric"], v["samples"], v["p75"], v["band"]) for v in body["vitals"]]
    # LCP on /inbox: 1000, 2000, 3000, 5000 -> p75 = 3000 + 0.25 * 2000 (between the 3rd
    # and 4th values) = 3500: needs improvement (2500 < 3500 <= 4000).
    assert rows == [
        ("/inbox", "cls", 1, 0.05, "good"),
        ("/inbox", "lcp", 4, 3500.0, "needs-improvement"),
        ("/orders/:id", "inp", 1, 600.0, "poor"),
    ]
    lcp = body["vitals"][1]
    assert (lcp["good_share"], lcp["needs_improvement_share"], lcp["poor_share"]) == (
        0.5,
        0.25,
        0.25,
    )
    assert moments(lcp["poor_samples"]) == [("S3", dates.iso(7, "09:00:01"))]
    assert moments(body["vitals"][2]["poor_samples"]) == [("S4", dates.iso(7, "11:00:07"))]
    assert body["thresholds"]["lcp"] == [2500, 4000]
    firefox = get(client, "/api/site-health/web-vitals", browser="Firefox")["vitals"]
    assert [(v["metric"], v["p75"], v["band"]) for v in firefox] == [
        ("lcp", 3000.0, "needs-improvement")
    ]


def test_long_tasks_by_page(client: TestClient) -> None:
    pages = get(client, "/api/site-health/long-tasks")["pages"]
    # /orders/:id: S1's 300 ms. /inbox: S1's 80 ms and S2's 200 ms (p75 = 80 + 0.75 * 120,
    # blocking 30 + 150).
    assert [
        (
            p["page"],
            p["tasks"],
            p["sessions"],
            p["total_ms"],
            p["blocking_ms"],
            p["p75_ms"],
            p["max_ms"],
        )
        for p in pages
    ] == [
        ("/orders/:id", 1, 1, 300.0, 250.0, 300.0, 300.0),
        ("/inbox", 2, 2, 280.0, 180.0, 170.0, 200.0),
    ]
    assert moments([pages[1]["worst"]]) == [("S2", dates.iso(0, "10:00:01"))]


def test_console_errors_grouped_by_fingerprint(client: TestClient) -> None:
    groups = get(client, "/api/site-health/console-errors")["groups"]
    assert [(g["pattern"], g["occurrences"], g["sessions"]) for g in groups] == [
        ("Request failed: POST /api/orders/ORD-N/schedule N", 3, 2),
        ("Cannot read properties of undefined (reading 'threads')", 1, 1),
    ]
    failed = groups[0]
    assert failed["example"] == "Request failed: POST /api/orders/ORD-2/schedule 503"
    assert (failed["first_seen"][:19], failed["last_seen"][:19]) == (
        dates.iso(7, "09:00:25"),
        dates.iso(7, "11:00:18"),
    )
    # Each session at its first occurrence: S3 at +25 s, S4 at +16 s.
    assert moments(failed["samples"]) == [
        ("S3", dates.iso(7, "09:00:25")),
        ("S4", dates.iso(7, "11:00:16")),
    ]
    assert len({g["fingerprint"] for g in groups}) == 2
    firefox = get(client, "/api/site-health/console-errors", browser="Firefox")["groups"]
    assert [(g["occurrences"], moments(g["samples"])) for g in firefox] == [
        (1, [("S2", dates.iso(0, "10:00:03"))])
    ]
    on_order = get(client, "/api/site-health/console-errors", page="/orders/:id")["groups"]
    assert [(g["occurrences"], g["sessions"]) for g in on_order] == [(1, 1)]


def test_http_monitoring(client: TestClient) -> None:
    body = get(client, "/api/site-health/http")
    assert (body["calls"], body["failed"], body["error_rate"]) == (5, 2, 0.4)
    assert body["status"] == {"2xx": 3, "3xx": 0, "4xx": 0, "5xx": 2, "no_status": 0}
    get_orders, schedule = body["endpoints"]
    assert (get_orders["method"], get_orders["endpoint"], get_orders["calls"]) == (
        "GET",
        "/api/orders/:id",
        3,
    )
    # 100, 120, 1500 ms: p50 120, p95 120 + 0.9 * 1380, p99 120 + 0.98 * 1380.
    assert (get_orders["p50_ms"], get_orders["p95_ms"], get_orders["p99_ms"]) == (
        120.0,
        1362.0,
        1472.4,
    )
    assert (schedule["endpoint"], schedule["failed"], schedule["error_rate"]) == (
        "/api/orders/:id/schedule",
        2,
        1.0,
    )
    assert schedule["status"]["5xx"] == 2
    # 90 and 200 ms: p50 145, p95 90 + 0.95 * 110.
    assert (schedule["p50_ms"], schedule["p95_ms"]) == (145.0, 194.5)
    assert moments(schedule["failure_samples"]) == [
        ("S1", dates.iso(0, "09:00:31")),
        ("S4", dates.iso(7, "11:00:16")),
    ]
    week1 = client.get(
        "/api/site-health/http",
        params={"from": dates.iso(-1, "00:00:00Z"), "to": dates.iso(1, "00:00:00Z")},
    ).json()
    assert (week1["calls"], week1["failed"]) == (2, 1)
