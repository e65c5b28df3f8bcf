"""Every process-mining and OCPM endpoint answers with its defaults alone, on an empty
database too (nothing to mine is an empty answer, not an error)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from exos_common.store import Store
from exos_query_api.app import create_app

ENDPOINTS = [
    "/api/process/operators",
    "/api/process/variants",
    "/api/process/variants?over=pages",
    "/api/process/bottlenecks",
    "/api/process/bottlenecks?over=pages",
    "/api/process/map",
    "/api/process/map?over=pages",
    "/api/process/funnel",
    "/api/process/funnel?over=pages",
    "/api/process/conformance",
    "/api/process/conformance?over=pages",
    "/api/process/rework",
    "/api/process/rework?over=pages",
    "/api/process/anomalies",
    "/api/process/anomalies?series=http_errors",
    "/api/ocpm/categories",
    "/api/ocpm/interactions",
    "/api/ocpm/handoffs",
    "/api/ocpm/lifecycle",
    "/api/ocpm/vendors",
]


@pytest.fixture
def client(migrated_store: Store) -> TestClient:
    return TestClient(create_app(store=migrated_store))


def test_defaults_on_an_empty_database(client: TestClient) -> None:
    for url in ENDPOINTS:
        response = client.get(url)
        assert response.status_code == 200, (url, response.text)
        assert response.json()["queries"], url
    assert client.get("/api/process/variants").json()["narrative"] == (
        "No orders in the selected range."
    )
    assert client.get("/api/process/conformance").json()["total"] == 0
    ocel = client.get("/api/ocpm/export/ocel")
    assert ocel.status_code == 200
    assert ocel.json() == {
        "objectTypes": ocel.json()["objectTypes"],
        "eventTypes": [],
        "objects": [],
        "events": [],
    }
    xes = client.get("/api/ocpm/export/xes")
    assert xes.status_code == 200 and xes.text.rstrip().endswith("</log>")
