"""The session list and detail on the hand-built sessions of `replay_fixtures`."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from replay_fixtures import BROKEN, NO_RECORDING, SESSION, T0, S

from exos_common.testing import dates


def ids(client: TestClient, **params: Any) -> list[str]:
    response = client.get("/api/sessions", params=params)
    assert response.status_code == 200, response.text
    return [s["session_id"] for s in response.json()["sessions"]]


def test_list_newest_first_with_counts(client: TestClient) -> None:
    page = client.get("/api/sessions").json()
    assert [s["session_id"] for s in page["sessions"]] == [BROKEN, NO_RECORDING, SESSION]
    assert page["total"] == 3 and page["next_offset"] is None
    ids_query, figures_query = page["queries"]
    assert "FROM replay_sessions" in ids_query["sql"]
    assert ids_query["parameters"] == {"limit": 50, "offset": 0}
    assert figures_query["parameters"] == {"ids": [BROKEN, NO_RECORDING, SESSION]}
    assert (ids_query["rows"], figures_query["rows"]) == (3, 3)
    ref = page["sessions"][2]
    assert ref["started_ns"] == T0 and ref["ended_ns"] == T0 + 60 * S
    assert ref["duration_ms"] == 60_000
    # two click spans at the same time on one element are one physical click
    assert (ref["clicks"], ref["errors"], ref["rage_clicks"], ref["dead_clicks"]) == (1, 2, 1, 1)
    assert ref["page_views"] == 2 and ref["pages"] == 2
    assert ref["entry_page"] == "https://app.test/orders"
    assert ref["frustration"] == 2
    assert ref["identity"] == {"email": "ann@example.test", "name": "Ann", "uid": "u-1"}
    assert ref["visitor"]["city"] == "Chicago" and ref["visitor"]["returning"] is True
    assert ref["visitor"]["visit_count"] == 14
    assert ref["replay"]["status"] == "ok" and ref["replay"]["chunks"] == 6
    assert ref["replay"]["events"] == 5 and ref["replay"]["recorder"] == "rum.rr-web 3.0.0"
    statuses = {s["session_id"]: s["replay"]["status"] for s in page["sessions"]}
    assert statuses == {SESSION: "ok", NO_RECORDING: "none", BROKEN: "broken"}


def test_filters(client: TestClient) -> None:
    assert ids(client, user="ANN@") == [SESSION]
    assert ids(client, user="u-1") == [SESSION]
    assert ids(client, user="' OR 1=1 --") == []  # bound as a value, never SQL
    assert ids(client, city="chicago") == [SESSION]
    assert ids(client, country="us") == [NO_RECORDING, SESSION]
    assert ids(client, returning="true") == [SESSION]
    assert ids(client, returning="false") == [BROKEN, NO_RECORDING]
    assert ids(client, has_rage_click="true") == [SESSION]
    assert ids(client, has_dead_click="false") == [BROKEN, NO_RECORDING]
    assert ids(client, has_errors="true") == [SESSION]
    assert ids(client, has_recording="true") == [SESSION]
    # durations: reference 60 s, no-recording 90 s, broken 1 s
    assert ids(client, min_duration_s=61) == [NO_RECORDING]
    assert ids(client, min_duration_s=2, max_duration_s=60) == [SESSION]
    # time range: the reference session ran T0..T0+60 s; the others start 1 h and 2 h later
    assert ids(client, since=dates.iso(16, "11:07:00Z"), until=dates.iso(16, "11:30:00Z")) == [
        SESSION
    ]
    assert ids(client, since=dates.iso(16, "12:06:41Z")) == [BROKEN, NO_RECORDING]


def test_sort_by_frustration_and_pagination(client: TestClient) -> None:
    assert ids(client, sort="frustration")[0] == SESSION
    first = client.get("/api/sessions", params={"limit": 2}).json()
    assert [s["session_id"] for s in first["sessions"]] == [BROKEN, NO_RECORDING]
    assert (first["total"], first["next_offset"]) == (3, 2)
    second = client.get("/api/sessions", params={"limit": 2, "offset": 2}).json()
    assert [s["session_id"] for s in second["sessions"]] == [SESSION]
    assert second["next_offset"] is None
    past = client.get("/api/sessions", params={"offset": 10}).json()
    assert past["sessions"] == [] and past["total"] == 3


def test_bad_list_input_is_a_clear_422(client: TestClient) -> None:
    for params in ({"sort": "loudest"}, {"limit": 0}, {"since": "yesterday"}):
        response = client.get("/api/sessions", params=params)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_request"
    backwards = client.get(
        "/api/sessions",
        params={"since": dates.iso(17), "until": dates.iso(16)},
    )
    assert backwards.status_code == 422
    assert "since" in backwards.json()["error"]["message"]


def test_detail_has_pages_visitor_and_integrity(client: TestClient) -> None:
    detail = client.get(f"/api/sessions/{SESSION}").json()
    assert detail["offset_base_ns"] == T0  # the Meta event, the first rrweb event
    assert [(p["name"], p["offset_ms"], p["href"]) for p in detail["page_visits"]] == [
        ("documentLoad", 500.0, "https://app.test/orders"),
        ("routeChange", 40_000.0, "https://app.test/orders/42"),
    ]
    integrity = detail["integrity"]
    assert integrity["status"] == "ok" and integrity["reasons"] == []
    assert integrity["full_snapshot"] and integrity["chunks_complete"]
    assert integrity["events_in_order"] and integrity["gaps"] == []
    assert (integrity["events"], integrity["chunks"]) == (5, 6)


def test_detail_of_broken_and_unrecorded_sessions(client: TestClient) -> None:
    broken = client.get(f"/api/sessions/{BROKEN}").json()["integrity"]
    assert broken["status"] == "broken" and not broken["full_snapshot"]
    assert "No full snapshot" in broken["reasons"][0]
    assert broken["events_before_snapshot"] == 1
    none = client.get(f"/api/sessions/{NO_RECORDING}").json()
    assert none["integrity"]["status"] == "none"
    assert none["offset_base_ns"] == T0 + 3600 * S  # its first span


def test_unknown_session_is_404_with_a_message(client: TestClient) -> None:
    for path in ("", "/events", "/tabs/console", "/heatbar"):
        response = client.get(f"/api/sessions/no-such-session{path}")
        assert response.status_code == 404
        assert "no-such-session" in response.json()["error"]["message"]
    page = client.get("/replay/no-such-session")
    assert page.status_code == 404
    assert "No session <code>no-such-session</code>" in page.text
