"""The object-centric endpoints and the OCEL 2.0 / XES exports on the hand-built world
of `pm_world` (read its table first): every number below is worked out by hand."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pm4py
import pytest
from fastapi.testclient import TestClient

from exos_common.testing import dates

sys.path.insert(0, str(Path(__file__).parent))

import pm_world as world

HOUR = 3600.0


@pytest.fixture(scope="module")
def client(chdb_path: Path) -> Iterator[TestClient]:
    with world.served(chdb_path, "ocpm") as test_client:
        yield test_client


def get(client: TestClient, url: str, **params: Any) -> dict[str, Any]:
    response = client.get(url, params={"from": world.FROM, "to": world.TO, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["queries"] and all("process_events" in q["sql"] for q in body["queries"])
    return body


def test_the_eight_categories(client: TestClient) -> None:
    body = get(client, "/api/ocpm/categories")
    counts = [(c["category"], c["events"], c["orders"]) for c in body["categories"]]
    assert counts == [
        ("Order Lifecycle", 11, 6),  # 6 created, 5 closed
        ("Field Work", 9, 5),  # 5 scheduled, 4 completed
        ("Quality Control", 8, 5),
        ("System Action", 8, 5),
        ("Valuation", 6, 6),
        ("Document", 5, 5),
        ("Communication", 2, 2),
        ("Portal", 1, 0),  # op-a's inbox, no order
    ]
    portal = body["categories"][-1]
    assert (portal["prefix"], portal["operators"], portal["activities"]) == (
        "page.*",
        1,
        ["page.inbox"],
    )
    assert body["uncategorized_events"] == 3
    assert body["uncategorized_activities"] == ["revision.requested"]


def test_object_interaction_graph(client: TestClient) -> None:
    body = get(client, "/api/ocpm/interactions")
    edges = {(e["category_a"], e["category_b"]): e for e in body["edges"]}
    # O1 and O6 touch 7 categories (no Portal event has an order): 21 pairs.
    assert len(edges) == 21
    assert edges[("Order Lifecycle", "Valuation")]["orders"] == 6
    assert edges[("Order Lifecycle", "Valuation")]["share_pct"] == 100.0
    assert edges[("Quality Control", "System Action")]["orders"] == 5  # all but O4
    assert edges[("Field Work", "Quality Control")]["orders"] == 4  # O1, O6, O2, O5
    assert edges[("Field Work", "Valuation")]["orders"] == 5  # all but O3
    assert (
        edges[("Communication", "Document")]["orders"],
        edges[("Communication", "Document")]["share_pct"],
    ) == (2, 33.3)
    assert all(a < b for a, b in edges)
    assert len(body["nodes"]) == 8


def test_cross_category_handoffs(client: TestClient) -> None:
    body = get(client, "/api/ocpm/handoffs", limit=3, samples=1)
    top = body["handoffs"]
    # Valuation -> System Action: O3 only, 19 h. Quality Control -> System Action
    # (revision sent back, then routed again): 10 h, 10 h, 8 h. System Action -> Quality
    # Control: 2 h seven times and 8 h (O6).
    assert [(h["from_category"], h["to_category"]) for h in top] == [
        ("Valuation", "System Action"),
        ("Quality Control", "System Action"),
        ("System Action", "Quality Control"),
    ]
    assert top[0]["p95_s"] == 19 * HOUR
    assert (top[1]["handoffs"], top[1]["orders"], top[1]["p50_s"]) == (3, 2, 10 * HOUR)
    assert top[1]["avg_s"] == pytest.approx(28 / 3 * HOUR)
    assert (top[2]["handoffs"], top[2]["orders"]) == (8, 5)
    assert top[2]["p95_s"] == pytest.approx(2 * HOUR + 0.65 * 6 * HOUR)
    slowest = top[2]["samples"][0]
    assert (slowest["case_id"], slowest["gap_s"]) == ("O6", 8 * HOUR)
    assert slowest["at"] == world.at("O6", 60).isoformat()
    assert slowest["session_id"] == world.session_of("op-q", world.at("O6", 60))
    assert slowest["from_session_id"] == world.session_of("op-b", world.at("O6", 52))


def test_lifecycle_p50_p95(client: TestClient) -> None:
    rows = {r["name"]: r for r in get(client, "/api/ocpm/lifecycle")["lifecycles"]}
    order = rows["Order"]
    # First to last event: 2, 24, 32 h 1 min, 44, 54, 62 h 1 min.
    assert order["objects"] == 6
    assert order["p50_s"] == pytest.approx((32 * HOUR + 60 + 44 * HOUR) / 2)
    assert order["p95_s"] == pytest.approx(54 * HOUR + 0.75 * (8 * HOUR + 60))
    assert order["max_s"] == 62 * HOUR + 60
    qc = rows["Quality Control"]  # first to last review: 0, 0, 0, 12 h, 22 h
    assert (qc["objects"], qc["p50_s"], qc["max_s"]) == (5, 0.0, 22 * HOUR)
    assert qc["p95_s"] == pytest.approx(20 * HOUR)
    assert qc["avg_s"] == pytest.approx(6.8 * HOUR)
    assert rows["Field Work"]["p95_s"] == pytest.approx(43.2 * HOUR)


def test_vendor_contention(client: TestClient) -> None:
    body = get(client, "/api/ocpm/vendors", samples=2)
    v1, v2 = body["vendors"]
    # V-1: O1, O2, O5 wait on it at once (scheduled 11, 12, 13 h on Monday, done 24 h
    # later); two of them went back for revision.
    assert (v1["vendor_id"], v1["orders"], v1["waits"], v1["open_waits"]) == ("V-1", 3, 3, 0)
    assert (v1["peak_concurrent"], v1["p95_wait_s"]) == (3, 24 * HOUR)
    assert v1["rework_rate_pct"] == 66.7
    # V-2: O6 waits 48 h and is done at Thursday 11:00, the moment O4's wait starts (one
    # at a time); O4 is still waiting at the end of the range; O3 had no inspection.
    assert (v2["vendor_id"], v2["orders"], v2["waits"], v2["open_waits"]) == ("V-2", 3, 2, 1)
    assert (v2["peak_concurrent"], v2["p95_wait_s"], v2["rework_rate_pct"]) == (1, 48 * HOUR, 0.0)
    o4_wait = (dates.on(8) - world.at("O4", 2)).total_seconds()
    assert [(s["case_id"], s["wait_s"]) for s in v2["samples"]] == [
        ("O4", o4_wait),
        ("O6", 48 * HOUR),
    ]
    assert v2["samples"][0]["at"] == world.at("O4", 2).isoformat()
    assert v2["samples"][0]["session_id"] == "s-op-b-d3"


def test_ocel_export_reads_in_pm4py(client: TestClient, tmp_path: Path) -> None:
    response = client.get("/api/ocpm/export/ocel", params={"from": world.FROM, "to": world.TO})
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    path = tmp_path / "orders.jsonocel"
    path.write_bytes(response.content)
    ocel = pm4py.read_ocel2_json(str(path))
    # 52 order events and op-a's inbox; 6 orders, 2 vendors, 3 operators.
    assert len(ocel.events) == 53
    assert len(ocel.objects) == 11
    assert sorted(ocel.objects["ocel:type"].unique()) == ["operator", "order", "vendor"]
    # Relations: 52 to an order, 46 to a vendor (not order.created), 53 to an operator.
    assert len(ocel.relations) == 52 + 46 + 53
    assert set(ocel.events["ocel:activity"]) >= {"order.created", "revision.requested"}
    refinance = client.get(
        "/api/ocpm/export/ocel", params={"from": world.FROM, "to": world.TO, "lob": "refinance"}
    )
    path.write_bytes(refinance.content)
    only = pm4py.read_ocel2_json(str(path))
    assert (len(only.events), len(only.objects)) == (11 + 14, 2 + 1 + 3)  # O2, O5; V-1


def test_xes_export_reads_in_pm4py(client: TestClient, tmp_path: Path) -> None:
    response = client.get("/api/ocpm/export/xes", params={"from": world.FROM, "to": world.TO})
    assert response.status_code == 200
    path = tmp_path / "orders.xes"
    path.write_bytes(response.content)
    log = pm4py.read_xes(str(path))
    assert (len(log), log["case:concept:name"].nunique()) == (52, 6)
    o3 = log[log["case:concept:name"] == "O3"]
    assert list(o3["concept:name"]) == [activity for _, activity, _ in world.SCRIPTS["O3"]]
    assert set(o3["org:resource"]) == {"op-a", "op-q"}


def test_export_explain_lists_the_sql(client: TestClient) -> None:
    body = get(client, "/api/ocpm/export/xes", explain=True)
    assert any("ORDER BY OrderId, Timestamp, SpanId" in q["sql"] for q in body["queries"])


@pytest.mark.parametrize(
    ("path", "params", "reason"),
    [
        ("/api/ocpm/vendors", {"wait_from": "nope"}, "unknown step(s) in wait_from/wait_to: nope"),
        ("/api/ocpm/handoffs", {"limit": 0}, "greater than or equal to 1"),
        ("/api/ocpm/categories", {"categories": "Portal"}, "applies to /api/process views only"),
        ("/api/ocpm/export/ocel", {"from": dates.iso(29), "to": dates.iso(-1)}, "must be before"),
    ],
)
def test_bad_parameters_get_422_with_a_reason(
    client: TestClient, path: str, params: dict[str, Any], reason: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 422
    assert reason in response.json()["error"]["message"]
