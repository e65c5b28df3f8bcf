"""Health endpoints and the error envelope shared by every service."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter

from exos_common.service import health
from exos_common.service.errors import install_error_handlers
from exos_common.service.health import health_router


async def ok() -> bool:
    return True


async def down() -> bool:
    return False


async def broken() -> bool:
    raise ConnectionError("refused")


async def hangs() -> bool:
    await asyncio.sleep(60)
    return True


def client_for(checks: dict[str, health.ReadinessCheck]) -> TestClient:
    registry = CollectorRegistry()
    Counter("exos_test_requests", "Requests seen.", registry=registry).inc(3)
    app = FastAPI()
    app.include_router(health_router(registry, checks))
    return TestClient(app)


def test_liveness_checks_no_dependency() -> None:
    assert client_for({"kafka": down}).get("/healthz").json() == {"status": "ok"}


def test_ready_when_every_check_passes() -> None:
    response = client_for({"kafka": ok, "clickhouse": ok}).get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"kafka": "ok", "clickhouse": "ok"}}


def test_not_ready_names_the_failing_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "CHECK_TIMEOUT_S", 0.2)
    checks = {"kafka": down, "clickhouse": broken, "llm": hangs, "x": ok}
    response = client_for(checks).get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "kafka": "failing",
        "clickhouse": "failing",
        "llm": "failing",
        "x": "ok",
    }


def test_metrics_expose_the_service_registry() -> None:
    body = client_for({}).get("/metrics").text
    assert "exos_test_requests_total 3.0" in body


def test_errors_use_the_envelope() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        if item_id == 0:
            raise HTTPException(404, "no item 0", headers={"X-Reason": "missing"})
        return {"id": item_id}

    client = TestClient(app)
    missing = client.get("/items/0")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "http_404", "message": "no item 0"}}
    assert missing.headers["x-reason"] == "missing"
    invalid = client.get("/items/abc")
    assert invalid.status_code == 422
    assert invalid.json()["error"]["code"] == "invalid_request"
    assert invalid.json()["error"]["message"].startswith("path.item_id:")
