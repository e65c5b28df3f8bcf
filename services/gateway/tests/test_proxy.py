"""Distributed mode: the gateway forwards routed paths to the services over HTTP,
streams the answers, hides the caller's credentials from them, merges their OpenAPI
documents, and says which service is down instead of hanging."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.testclient import TestClient

from exos_common.testing.servers import serve_in_thread
from exos_gateway.app import create_app
from exos_gateway.settings import GatewaySettings

TOKEN = "gateway-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _query_api() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/stats", summary="Table overview")
    async def stats(request: Request, limit: int = 10) -> dict[str, object]:
        return {
            "limit": limit,
            "authorization": request.headers.get("authorization"),
            "cookie": request.headers.get("cookie"),
            "forwarded_for": request.headers.get("x-forwarded-for"),
            "user": request.headers.get("x-exos-user"),
            "role": request.headers.get("x-exos-role"),
        }

    @app.post("/api/process/funnel")
    async def funnel(request: Request) -> dict[str, object]:
        return {"received": (await request.json())["steps"]}

    @app.get("/api/ocpm/export")
    async def export() -> StreamingResponse:
        async def lines() -> Iterator[bytes]:  # type: ignore[misc]
            for i in range(1000):
                yield f'{{"event": {i}}}\n'.encode()

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @app.get("/api/analytics/compressed")
    async def compressed() -> Response:
        body = gzip.compress(b'{"pages": 7}')
        return Response(body, media_type="application/json", headers={"content-encoding": "gzip"})

    return app


@pytest.fixture(scope="module")
def query_api_url() -> Iterator[str]:
    with serve_in_thread(_query_api()) as url:
        yield url


@pytest.fixture
def gateway(query_api_url: str) -> Iterator[TestClient]:
    settings = GatewaySettings(
        gateway_tokens=f"{TOKEN},ci-bot:{TOKEN}-viewer:viewer",
        query_api_url=query_api_url,
        replay_url="http://127.0.0.1:9",  # nothing listens there
        insights_url="http://127.0.0.1:9",
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_routed_get_reaches_the_service_without_the_callers_credentials(
    gateway: TestClient,
) -> None:
    answer = gateway.get("/api/stats?limit=3", headers={**AUTH, "Cookie": "a=b"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["limit"] == 3
    assert body["authorization"] is None and body["cookie"] is None
    assert body["forwarded_for"] == "testclient"


def test_the_service_learns_who_asks_from_the_gateway_only(gateway: TestClient) -> None:
    forged = {"X-Exos-User": "mallory", "X-Exos-Role": "admin"}
    viewer = {"Authorization": f"Bearer {TOKEN}-viewer", **forged}
    body = gateway.get("/api/stats", headers=viewer).json()
    assert (body["user"], body["role"]) == ("ci-bot", "viewer")
    body = gateway.get("/api/stats", headers={**AUTH, **forged}).json()
    assert (body["user"], body["role"]) == ("token-1", "admin")
    refused = gateway.post("/api/process/funnel", json={"steps": []}, headers=viewer)
    assert refused.status_code == 403


def test_post_bodies_and_streams_pass_through(gateway: TestClient) -> None:
    posted = gateway.post("/api/process/funnel", json={"steps": ["a", "b"]}, headers=AUTH)
    assert posted.json() == {"received": ["a", "b"]}
    streamed = gateway.get("/api/ocpm/export", headers=AUTH)
    lines = streamed.text.splitlines()
    assert len(lines) == 1000 and lines[-1] == '{"event": 999}'
    compressed = gateway.get("/api/analytics/compressed", headers=AUTH)
    assert compressed.headers["content-encoding"] == "gzip"
    assert compressed.json() == {"pages": 7}


def test_a_service_that_is_down_gives_502_naming_it(gateway: TestClient) -> None:
    answer = gateway.get("/api/sessions", headers=AUTH)
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "upstream_unavailable"
    assert "replay" in answer.json()["error"]["message"]


def test_unrouted_api_path_is_404(gateway: TestClient) -> None:
    assert gateway.get("/api/nothing-here", headers=AUTH).status_code == 404


def test_openapi_documents_the_services_routes(gateway: TestClient) -> None:
    spec = gateway.get("/openapi.json", headers=AUTH).json()
    assert spec["paths"]["/api/stats"]["get"]["summary"] == "Table overview"
    assert "/api/process/funnel" in spec["paths"]
    assert "/healthz" in spec["paths"]  # the gateway's own, not the service's


def test_readiness_names_the_service_that_is_down(gateway: TestClient) -> None:
    answer = gateway.get("/readyz")
    assert answer.status_code == 503
    assert "replay" in answer.text
