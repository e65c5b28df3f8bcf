"""Events, drill-down tabs and heatbar of the hand-built reference session (expected
values worked out by hand in `replay_fixtures`)."""

from __future__ import annotations

import orjson
from fastapi.testclient import TestClient
from replay_fixtures import MS, NO_RECORDING, SESSION, T0, SessionRows, record_page

from exos_common.store import Store
from exos_replay.app import create_app


def test_events_reassemble_chunks_in_order(client: TestClient) -> None:
    page = client.get(f"/api/sessions/{SESSION}/events").json()
    assert page["next"] is None and page["skipped"] == []
    events = page["events"]
    assert [e["type"] for e in events] == [4, 2, 3, 3, 3]  # snapshot: two chunks, one event
    assert events[1]["data"]["node"]["childNodes"][1]["tagName"] == "html"
    assert events[0]["timestamp"] == T0 // MS


def test_events_page_by_page_with_a_cursor(client: TestClient) -> None:
    seen, after, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({"after": after} if after else {})
        page = client.get(f"/api/sessions/{SESSION}/events", params=params).json()
        seen += [e["type"] for e in page["events"]]
        pages += 1
        after = page["next"]
        if after is None:
            break
    # limit 2 chunks: [meta] (the snapshot's 2nd chunk would split), [snapshot], [3, 3], [3]
    assert seen == [4, 2, 3, 3, 3]
    assert pages == 4


def test_events_gzip_on_the_wire(migrated_store: Store) -> None:
    big = SessionRows("fix-big", T0)
    record_page(big, "orders " * 40_000, 60, snapshot_chunks=3)  # a ~280 KB snapshot
    big.write(migrated_store)
    with TestClient(create_app(store=migrated_store)) as client:
        url = "/api/sessions/fix-big/events"
        packed = client.get(url, headers={"accept-encoding": "gzip"})
        plain = client.get(url, headers={"accept-encoding": "identity"})
    assert packed.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    wire = int(packed.headers["content-length"])
    assert wire < len(plain.content) / 50  # repetitive text: gzip shrinks it a lot
    assert packed.content == plain.content  # httpx undid the gzip: same JSON
    events = orjson.loads(plain.content)["events"]
    text = events[1]["data"]["node"]["childNodes"][1]["childNodes"][1]["childNodes"][0]
    assert text["childNodes"][0]["textContent"] == "orders " * 40_000


def test_bad_cursor_is_422(client: TestClient) -> None:
    response = client.get(f"/api/sessions/{SESSION}/events", params={"after": "x.y"})
    assert response.status_code == 422
    assert "cursor" in response.json()["error"]["message"]


def rows(client: TestClient, tab: str, session: str = SESSION) -> list[dict[str, object]]:
    response = client.get(f"/api/sessions/{session}/tabs/{tab}")
    assert response.status_code == 200, response.text
    return response.json()["rows"]  # type: ignore[no-any-return]


def test_tabs_use_the_seed_filters_and_offsets(client: TestClient) -> None:
    assert [(r["name"], r["offset_ms"]) for r in rows(client, "events")] == [
        ("click", 10_000.0),
        ("click", 10_000.0),
        ("mousedown", 10_000.0),
        ("page.order_detail", 40_100.0),
        ("visibility", 50_000.0),
    ]
    assert [(r["name"], r["status"], r["offset_ms"]) for r in rows(client, "network")] == [
        ("HTTP POST", 500, 12_000.0)
    ]
    assert [(r["level"], r["message"], r["offset_ms"]) for r in rows(client, "console")] == [
        ("info", "order saved", 15_000.0),
        ("warn", "slow response", 25_000.0),
        ("error", "boom", 35_000.0),
    ]
    # the failed request, and the browser error once (its span has a log of its own)
    assert [(r["source"], r["message"], r["offset_ms"]) for r in rows(client, "errors")] == [
        ("span", "500", 12_000.0),
        ("log", "boom", 35_000.0),
    ]
    assert [(r["name"], r["offset_ms"]) for r in rows(client, "perf")] == [
        ("documentLoad", 500.0),
        ("webvitals", 5_000.0),
        ("longtask", 45_000.0),
    ]
    assert rows(client, "perf")[1]["metrics"] == "lcp=1234"


def test_unknown_tab_is_404(client: TestClient) -> None:
    response = client.get(f"/api/sessions/{SESSION}/tabs/video")
    assert response.status_code == 404
    assert "events, network, console, errors, perf" in response.json()["error"]["message"]


def test_tabs_of_a_session_without_recording_count_from_its_first_span(
    client: TestClient,
) -> None:
    assert [r["offset_ms"] for r in rows(client, "console", NO_RECORDING)] == [4_000.0]
    body = client.get(f"/api/sessions/{NO_RECORDING}/tabs/console").json()
    assert body["recorded"] is False


def test_heatbar_buckets_weights_and_markers(client: TestClient) -> None:
    bar = client.get(f"/api/sessions/{SESSION}/heatbar", params={"width": 100}).json()
    # 100 px / 2 px = 50 buckets (the minimum) over 60 s: 1.2 s each
    assert (bar["buckets"], bar["duration_ms"], bar["bucket_ms"]) == (50, 60_000.0, 1_200.0)
    nonzero = {i: v for i, v in enumerate(bar["values"]) if v}
    assert nonzero == {0: 2.0, 8: 2.8, 10: 0.6, 16: 0.2, 17: 0.2, 37: 1.5}
    assert bar["max_value"] == 2.8
    assert [(m["kind"], m["bucket"], m["count"], m["offset_ms"]) for m in bar["markers"]] == [
        ("navigation", 0, 1, 500.0),
        ("error", 10, 1, 12_000.0),
        ("rage_click", 25, 1, 30_000.0),
        ("error", 29, 1, 35_000.0),
        ("navigation", 33, 2, 40_000.0),  # routeChange + page.order_detail
    ]


def test_heatbar_bucket_count_follows_width(client: TestClient) -> None:
    def count(width: int) -> int:
        bar = client.get(f"/api/sessions/{SESSION}/heatbar", params={"width": width}).json()
        return int(bar["buckets"])

    assert (count(60), count(500), count(800), count(2000)) == (50, 250, 400, 400)


def test_a_corrupt_event_is_skipped_and_reported(migrated_store: Store) -> None:
    rows = SessionRows("fix-corrupt", T0)
    record_page(rows, "Page with one bad event", 60)
    rows.replay[3][2] = '{"type":3,"data":{"source":3,'  # the first scroll, cut short
    del rows.replay[2]  # and the snapshot's second chunk never arrived
    rows.write(migrated_store)
    with TestClient(create_app(store=migrated_store)) as client:
        page = client.get("/api/sessions/fix-corrupt/events").json()
        detail = client.get("/api/sessions/fix-corrupt").json()
    assert [e["type"] for e in page["events"]] == [4, 3, 3]
    assert [(s["ordinal"], s["reason"]) for s in page["skipped"]] == [
        (2, "chunks missing"),
        (3, "not JSON (Input data was truncated)"),
    ]
    assert detail["integrity"]["status"] == "broken"  # the only snapshot is incomplete
    assert detail["integrity"]["incomplete_events"] == 1


def test_heatbar_of_a_session_without_recording_spans_its_spans(client: TestClient) -> None:
    bar = client.get(f"/api/sessions/{NO_RECORDING}/heatbar", params={"width": 100}).json()
    # spans from 0 to 90 s: 50 buckets of 1.8 s; documentLoad at 0, click at 3 s -> bucket 1
    assert (bar["buckets"], bar["duration_ms"]) == (50, 90_000.0)
    assert {i: v for i, v in enumerate(bar["values"]) if v} == {0: 2.0, 1: 1.0}
    assert [(m["kind"], m["bucket"]) for m in bar["markers"]] == [("navigation", 0)]
