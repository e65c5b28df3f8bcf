"""The process-mining endpoints on the hand-built world of `pm_world` (read its table
first): every number below is worked out by hand from it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from exos_common.testing import dates

sys.path.insert(0, str(Path(__file__).parent))

import pm_world as world

HOUR = 3600.0


@pytest.fixture(scope="module")
def client(chdb_path: Path) -> Iterator[TestClient]:
    with world.served(chdb_path, "pm") as test_client:
        yield test_client


def get(client: TestClient, url: str, **params: Any) -> dict[str, Any]:
    response = client.get(url, params={"from": world.FROM, "to": world.TO, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["queries"], "every response carries the SQL it ran"
    for ran in body["queries"]:
        assert "{start:DateTime64(9)}" in ran["sql"] or "process_events" in ran["sql"]
    return body


def moment(session: str, at: datetime, case: str, activity: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"session_id": session, "at": at.isoformat(), "case_id": case}
    if activity is not None:
        out["activity"] = activity
    return out


def order_moment(order: str, hours: float, activity: str, operator: str) -> dict[str, Any]:
    when = world.at(order, hours)
    return moment(world.session_of(operator, when), when, order, activity)


def test_conformance_to_the_default_happy_path(client: TestClient) -> None:
    body = get(client, "/api/process/conformance", samples=3)
    # O1 and O6 run the happy path; O2 and O5 start a second review (rework) before
    # the report; O3 has no inspection; O4 is still open after scheduling.
    assert (body["conforming"], body["total"], body["conformance_pct"]) == (2, 6, 33.3)
    deviations = {(d["kind"], d["missing_step"]): d for d in body["deviations"]}
    assert {k: d["cases"] for k, d in deviations.items()} == {
        ("out_of_order", None): 2,
        ("missing_step", "inspection.scheduled"): 1,
        ("missing_step", "inspection.completed"): 1,
    }
    assert deviations[("out_of_order", None)]["samples"] == [
        order_moment("O2", 42, "review.started", "op-q"),
        order_moment("O5", 42, "review.started", "op-q"),
    ]
    # O3 skipped the inspection: the deviation is its review; O4 stopped at scheduling.
    assert deviations[("missing_step", "inspection.scheduled")]["samples"] == [
        order_moment("O3", 22, "review.started", "op-q")
    ]
    assert deviations[("missing_step", "inspection.completed")]["samples"] == [
        order_moment("O4", 2, "inspection.scheduled", "op-b")
    ]
    assert deviations[("missing_step", "inspection.scheduled")]["reached"] == 2


def test_conformance_to_a_chosen_path(client: TestClient) -> None:
    body = get(
        client, "/api/process/conformance", path="order.created,appraisal.assigned,review.started"
    )
    # Events off the path do not break it: all but O4 (never reviewed) conform.
    assert (body["conforming"], body["total"]) == (5, 6)
    assert body["deviations"][0]["samples"] == [
        order_moment("O4", 2, "inspection.scheduled", "op-b")
    ]


def test_rework_loops(client: TestClient) -> None:
    body = get(client, "/api/process/rework", samples=3)
    assert body["mode"] == "loop"
    assert body["loop"] == ["review.started", "revision.requested"]
    assert (body["cases_total"], body["cases_with_rework"], body["loops_total"]) == (6, 2, 3)
    assert body["rework_rate_pct"] == 33.3
    assert body["distribution"] == [{"loops": 1, "cases": 1}, {"loops": 2, "cases": 1}]
    assert [(c["case_id"], c["loops"]) for c in body["cases"]] == [("O5", 2), ("O2", 1)]
    assert body["cases"][0]["samples"] == [
        order_moment("O5", 30.5, "revision.requested", "op-q"),
        order_moment("O5", 42.5, "revision.requested", "op-q"),
    ]


def test_funnel_levels_and_drop_offs(client: TestClient) -> None:
    body = get(client, "/api/process/funnel")
    assert body["steps"][0] == "order.created" and len(body["steps"]) == 7
    # Full path: O1, O6, O2, O5; O3 stops after assignment, O4 after scheduling.
    assert [lvl["cases"] for lvl in body["levels"]] == [6, 6, 5, 4, 4, 4, 4]
    assert (body["entered"], body["completed"]) == (6, 4)
    assert [lvl["conversion_pct"] for lvl in body["levels"]][:3] == [100.0, 100.0, 83.3]
    assert body["levels"][3]["step_conversion_pct"] == 80.0
    assert [lvl["dropped"] for lvl in body["levels"]] == [0, 1, 1, 0, 0, 0, 0]
    assert body["levels"][1]["dropped_samples"] == [
        order_moment("O3", 1, "appraisal.assigned", "op-a")
    ]
    assert body["levels"][2]["dropped_samples"] == [
        order_moment("O4", 2, "inspection.scheduled", "op-b")
    ]


def test_funnel_window_and_chosen_steps(client: TestClient) -> None:
    steps = "order.created,inspection.completed"
    # Inspection done within 26 h of the order: O1, O2 and O5 (O6 took 50 h).
    within_26h = get(client, "/api/process/funnel", steps=steps, window_s=26 * 3600)
    assert [lvl["cases"] for lvl in within_26h["levels"]] == [6, 3]
    within_25h = get(client, "/api/process/funnel", steps=steps, window_s=25 * 3600)
    assert [lvl["cases"] for lvl in within_25h["levels"]] == [6, 0]


def test_bottlenecks_p95_and_slowest_samples(client: TestClient) -> None:
    body = get(client, "/api/process/bottlenecks", limit=3, samples=2)
    top = body["bottlenecks"]
    # scheduled -> completed: 24 h (O1, O2, O5) and 48 h (O6); p95 interpolates
    # 24 h + 0.85 * 24 h. Then assigned -> route_to_qc (O3, 19 h), then
    # revision -> route_to_qc (9.5 h, 9.5 h, 7.5 h).
    assert [(b["step_from"], b["step_to"]) for b in top] == [
        ("inspection.scheduled", "inspection.completed"),
        ("appraisal.assigned", "action.route_to_qc"),
        ("revision.requested", "action.route_to_qc"),
    ]
    first = top[0]
    assert (first["transitions"], first["cases"]) == (4, 4)
    assert first["avg_s"] == 30 * HOUR
    assert first["p50_s"] == 24 * HOUR
    assert first["p95_s"] == pytest.approx(24 * HOUR + 0.85 * 24 * HOUR)
    assert first["max_s"] == 48 * HOUR
    slowest = first["samples"][0]
    assert slowest["gap_s"] == 48 * HOUR
    assert slowest["case_id"] == "O6"
    assert slowest["at"] == world.at("O6", 50).isoformat()
    assert slowest["session_id"] == world.session_of("op-b", world.at("O6", 50))
    assert slowest["from_at"] == world.at("O6", 2).isoformat()
    assert top[2]["p95_s"] == pytest.approx(9.5 * HOUR)
    assert top[2]["avg_s"] == pytest.approx((9.5 + 9.5 + 7.5) / 3 * HOUR)


def test_process_map_edges_and_nodes(client: TestClient) -> None:
    body = get(client, "/api/process/map")
    edges = {(e["step_from"], e["step_to"]): e for e in body["edges"]}
    short = {
        "order.created": "c",
        "appraisal.assigned": "a",
        "inspection.scheduled": "s",
        "inspection.completed": "i",
        "action.route_to_qc": "q",
        "review.started": "r",
        "revision.requested": "v",
        "report.submitted": "p",
        "order.closed": "x",
        "email.sent": "e",
    }
    frequencies = {short[a] + short[b]: e["frequency"] for (a, b), e in edges.items()}
    assert frequencies == {
        "ca": 6, "as": 5, "si": 4, "iq": 4, "qr": 8, "rp": 5,
        "px": 5, "xe": 2, "rv": 3, "vq": 3, "aq": 1,
    }  # fmt: skip
    assert edges[("action.route_to_qc", "review.started")]["cases"] == 5
    # route -> review: 2 h seven times, 8 h once (O6).
    assert edges[("action.route_to_qc", "review.started")]["p50_s"] == 2 * HOUR
    assert edges[("action.route_to_qc", "review.started")]["p95_s"] == pytest.approx(
        2 * HOUR + 0.65 * 6 * HOUR
    )
    nodes = {n["activity"]: n for n in body["nodes"]}
    assert body["cases"] == 6
    assert (nodes["review.started"]["events"], nodes["review.started"]["cases"]) == (8, 5)
    assert nodes["order.created"]["starts"] == 6
    assert (nodes["email.sent"]["ends"], nodes["order.closed"]["ends"]) == (2, 3)
    assert nodes["inspection.scheduled"]["ends"] == 1


def test_variants_counts_samples_and_narrative(client: TestClient) -> None:
    body = get(client, "/api/process/variants", samples=2)
    assert (body["total_cases"], body["total_variants"]) == (6, 5)
    top = body["variants"][0]
    assert top["path"] == [activity for _, activity, _ in world.SCRIPTS["O1"]]
    assert (top["cases"], top["share_pct"]) == (2, 33.3)
    assert top["top_segments"] == ["purchase"]
    assert top["samples"] == [
        moment("s-op-a-d0", world.at("O1", 0), "O1"),
        moment("s-op-b-d1", world.at("O6", 0), "O6"),
    ]
    # O1 takes 32 h 1 min, O6 62 h 1 min.
    assert top["avg_duration_s"] == pytest.approx(47 * HOUR + 60)
    assert sorted(v["cases"] for v in body["variants"]) == [1, 1, 1, 1, 2]
    assert body["narrative"].startswith("6 orders ran 5 distinct variants.")
    assert "The most common (33.3% of orders, 2)" in body["narrative"]
    lob = get(client, "/api/process/variants", lob="refinance")
    assert (lob["total_cases"], lob["total_variants"]) == (2, 2)


def test_operator_leaderboard(client: TestClient) -> None:
    body = get(client, "/api/process/operators")
    rows = {r["operator_id"]: r for r in body["operators"]}
    assert [r["operator_id"] for r in body["operators"]] == ["op-a", "op-b", "op-q"]
    assert (body["total_events"], body["total_operators"]) == (53, 3)
    a = rows["op-a"]
    # 7 (O1) + 7 (O2) + 4 (O3) events, and the inbox page.
    assert (a["events"], a["orders"], a["routine_events"]) == (19, 3, 5)
    assert a["automation_opportunity_pct"] == 26.3
    assert a["categories"]["System Action"] == 4 and a["categories"]["Portal"] == 1
    assert (rows["op-b"]["events"], rows["op-b"]["routine_events"]) == (18, 5)
    q = rows["op-q"]
    assert (q["events"], q["orders"], q["automation_opportunity_pct"]) == (16, 5, 0.0)
    assert q["categories"] == {"Quality Control": 8, "Document": 5, "Other": 3}
    assert body["automation_candidates"][0] == {"activity": "action.route_to_qc", "events": 8}
    only_q = get(client, "/api/process/operators", team="Quality Control")
    assert [r["operator_id"] for r in only_q["operators"]] == ["op-q"]


def test_anomaly_on_rage_clicks_with_sessions(client: TestClient) -> None:
    body = get(
        client, "/api/process/anomalies", series="rage_clicks", bucket="day", window=4, threshold=5
    )
    values = [p["value"] for p in body["points"]]
    # From the first span (Monday) to the end of the range.
    assert values == [1, 2, 1, 2, 8, 0, 0, 0]
    # Friday against 1, 2, 1, 2: mean 1.5, sd 0.5 (floored to 1) -> z = 6.5.
    assert [(a["bucket"], a["z"], a["direction"]) for a in body["anomalies"]] == [
        (dates.iso(4, "00:00:00"), 6.5, "spike")
    ]
    assert body["anomalies"][0]["sd"] == 0.5
    assert body["anomalies"][0]["samples"] == [
        {"session_id": "X", "at": dates.iso(4, "14:00:00")},
        {"session_id": "Y", "at": dates.iso(4, "15:00:00")},
    ]
    # By hour: five at 14:00 after 24 empty hours (mean 0, sd 0 -> 1): z = 5. At 15:00
    # three against mean 5/24 and sd ~1: z < 3.
    hourly = get(client, "/api/process/anomalies", series="rage_clicks")
    assert [(a["bucket"], a["z"]) for a in hourly["anomalies"]] == [(dates.iso(4, "14:00:00"), 5.0)]
    orders = get(client, "/api/process/anomalies", series="orders", bucket="day", window=3)
    assert [p["value"] for p in orders["points"]] == [3, 1, 1, 1, 0, 0, 0, 0]
    assert orders["points"][0]["bucket"] == dates.iso(0, "00:00:00") and not orders["anomalies"]


def test_page_flows_variants_rework_conformance(client: TestClient) -> None:
    variants = get(client, "/api/process/variants", over="pages")
    assert (variants["total_cases"], variants["total_variants"]) == (3, 3)
    assert sorted(v["path"] for v in variants["variants"])[0] == ["/inbox", "/orders/:id"]
    rework = get(client, "/api/process/rework", over="pages")
    assert rework["mode"] == "revisits"
    # P1 and P2 come back to the inbox; P2's reload of its order is not a new step.
    assert (rework["cases_with_rework"], rework["loops_total"]) == (2, 2)
    assert rework["by_activity"] == [{"activity": "/inbox", "events": 2}]
    p1 = next(c for c in rework["cases"] if c["case_id"] == "P1")
    assert p1["samples"] == [moment("P1", world.PAGES_START + timedelta(minutes=5), "P1", "/inbox")]
    path = "/inbox,/orders/:id,/orders/:id/documents"
    conformance = get(client, "/api/process/conformance", over="pages", path=path)
    assert (conformance["conforming"], conformance["total"]) == (0, 3)
    out_of_order = next(d for d in conformance["deviations"] if d["kind"] == "out_of_order")
    assert out_of_order["samples"] == [
        moment("P1", world.PAGES_START + timedelta(minutes=5), "P1", "/inbox")
    ]
    short = get(client, "/api/process/conformance", over="pages", path="/inbox,/orders/:id")
    assert short["conformance_pct"] == 100.0


@pytest.mark.parametrize(
    ("path", "params", "reason"),
    [
        ("/api/process/funnel", {"steps": "order.created,nope"}, "unknown step(s) in steps: nope"),
        ("/api/process/conformance", {"path": "order.created,x"}, "unknown step(s) in path: x"),
        ("/api/process/rework", {"loop": "review.started"}, "loop needs 2 to 32 steps"),
        ("/api/process/variants", {"limit": 1000}, "less than or equal to 100"),
        ("/api/process/bottlenecks", {"samples": 50}, "less than or equal to 10"),
        ("/api/process/variants", {"over": "pages", "lob": "heloc"}, "over=orders only"),
        ("/api/process/anomalies", {"series": "activity"}, "needs the activity"),
        ("/api/process/map", {"categories": "Nope"}, "unknown categories: Nope"),
        ("/api/process/map", {"from": dates.iso(7), "to": dates.iso(-1)}, "must be before"),
    ],
)
def test_bad_parameters_get_422_with_a_reason(
    client: TestClient, path: str, params: dict[str, Any], reason: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 422
    assert reason in response.json()["error"]["message"]


def test_filters_choose_whole_cases(client: TestClient) -> None:
    # V-2 is set from the assignment on, yet O6, O3 and O4 keep their order.created.
    by_vendor = get(client, "/api/process/conformance", vendor="V-2")
    assert (by_vendor["conforming"], by_vendor["total"]) == (1, 3)  # O6
    by_reviewer = get(client, "/api/process/funnel", operator="op-q")
    assert [lvl["cases"] for lvl in by_reviewer["levels"]] == [5, 5, 4, 4, 4, 4, 4]
    milestones = get(
        client,
        "/api/process/variants",
        categories="Order Lifecycle,Valuation,Field Work,Quality Control,Document,Other",
    )
    assert milestones["variants"][0]["path"] == [
        "order.created",
        "appraisal.assigned",
        "inspection.scheduled",
        "inspection.completed",
        "review.started",
        "report.submitted",
        "order.closed",
    ]
    assert get(client, "/api/process/variants", over="pages", service="other")["total_cases"] == 0
