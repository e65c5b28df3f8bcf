"""With auth on, no route of the platform answers without a token: the gateway's
OpenAPI (every route of query-api, replay, insights and its own) is walked and each
operation is called without credentials, then with a token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from exos_common.store import Store
from exos_gateway.app import create_app
from exos_gateway.settings import GatewaySettings
from exos_insights.app import create_app as create_insights
from exos_query_api.app import create_app as create_query_api
from exos_replay.app import create_app as create_replay

TOKEN = "walk-every-route"
VIEWER_TOKEN = "walk-as-viewer"
ANALYST_TOKEN = "walk-as-analyst"
PUBLIC = {"/healthz", "/readyz", "/metrics"}


@pytest.fixture
def gateway(migrated_store: Store) -> Iterator[TestClient]:
    services = [
        create_query_api(store=migrated_store),
        create_replay(store=migrated_store),
        create_insights(store=migrated_store),
    ]
    tokens = f"{TOKEN},viewer:{VIEWER_TOKEN}:viewer,analyst:{ANALYST_TOKEN}:analyst"
    app = create_app(GatewaySettings(gateway_tokens=tokens), services=services)
    with TestClient(app, follow_redirects=False) as client:
        yield client


def _operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for path, item in spec["paths"].items():
        for method in item:
            if method in {"get", "post", "put", "patch", "delete"}:
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "x", path)))
    return found


def test_every_documented_route_needs_a_token(gateway: TestClient) -> None:
    spec = gateway.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    operations = [(m, p) for m, p in _operations(spec) if p not in PUBLIC]
    areas = {path.split("/")[2] for _, path in operations if path.startswith("/api/")}
    # Every read service's routes are in the walk, not only the gateway's.
    assert {"stats", "process", "ocpm", "analytics", "site-health", "sessions", "insights"} <= areas
    assert len(operations) >= 40
    assert gateway.get("/openapi.json").status_code == 401
    open_routes = [
        (method, path)
        for method, path in operations
        if gateway.request(method, path).status_code != 401
    ]
    assert open_routes == []
    for method, path in operations:
        answer = gateway.request(method, path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code != 401, (method, path)


def test_portal_pages_need_a_session(gateway: TestClient) -> None:
    answer = gateway.get("/", headers={"Accept": "text/html"})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")


def test_every_documented_route_is_given_to_the_right_roles(gateway: TestClient) -> None:
    spec = gateway.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    operations = [(m, p) for m, p in _operations(spec) if p not in PUBLIC]

    def status(token: str, method: str, path: str) -> int:
        answer = gateway.request(method, path, headers={"Authorization": f"Bearer {token}"})
        return answer.status_code

    insights = [(m, p) for m, p in operations if p.startswith("/api/insights")]
    others = [(m, p) for m, p in operations if not p.startswith("/api/insights")]
    assert {m for m, _ in insights} == {"GET", "POST"} and len(others) >= 30
    assert {m for m, _ in others} == {"GET"}  # every read service's route is a read
    # A session's replay (its events, tabs, heatbar) is personal data: analysts and up.
    replay = [(m, p) for m, p in others if re.fullmatch(r"/api/sessions/x/.+", p)]
    assert len(replay) == 3, replay
    reads = [op for op in others if op not in replay]
    assert [(m, p) for m, p in insights if status(VIEWER_TOKEN, m, p) != 403] == []
    assert [(m, p) for m, p in replay if status(VIEWER_TOKEN, m, p) != 403] == []
    assert [(m, p) for m, p in reads if status(VIEWER_TOKEN, m, p) in (401, 403)] == []
    for method, path in insights + replay:
        assert status(ANALYST_TOKEN, method, path) not in (401, 403), (method, path)
