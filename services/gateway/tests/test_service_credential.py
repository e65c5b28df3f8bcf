"""The gateway's credential towards the read services: sent on every forwarded request,
on the OpenAPI fetch and the readiness probe; never the caller's own; required in
production."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import SecretStr

from exos_common.service.trust import CREDENTIAL_HEADER
from exos_common.testing.servers import serve_in_thread
from exos_gateway.app import create_app
from exos_gateway.settings import GatewaySettings

SECRET = "the-gateways-own-credential"
TOKEN = "viewer-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, list[str | None]]]:
    """A read service that records the credential of every request it gets."""
    seen: list[str | None] = []
    app = FastAPI()

    @app.get("/healthz")
    async def healthz(request: Request) -> dict[str, str]:
        seen.append(request.headers.get(CREDENTIAL_HEADER))
        return {"status": "ok"}

    @app.get("/api/stats")
    async def stats(request: Request) -> dict[str, str | None]:
        seen.append(request.headers.get(CREDENTIAL_HEADER))
        return {"role": request.headers.get("x-exos-role")}

    with serve_in_thread(app) as url:
        yield url, seen


def _gateway(url: str, secret: str | None) -> TestClient:
    settings = GatewaySettings(
        gateway_auth="tokens",
        gateway_tokens=SecretStr(f"ann:{TOKEN}:viewer"),
        service_secret=SecretStr(secret) if secret else None,
        query_api_url=url,
        replay_url=url,
        insights_url=url,
        enrich_url=url,
    )
    return TestClient(create_app(settings))


def test_every_forwarded_request_carries_the_credential_and_the_role(
    upstream: tuple[str, list[str | None]],
) -> None:
    url, seen = upstream
    seen.clear()
    with _gateway(url, SECRET) as gateway:
        answer = gateway.get("/api/stats", headers={**AUTH, CREDENTIAL_HEADER: "the-callers"})
        assert answer.json() == {"role": "viewer"}
        assert gateway.get("/readyz").status_code == 200
    assert seen and set(seen) == {SECRET}


def test_without_a_secret_nothing_is_sent_nor_passed_on(
    upstream: tuple[str, list[str | None]],
) -> None:
    url, seen = upstream
    seen.clear()
    with _gateway(url, None) as gateway:
        gateway.get("/api/stats", headers={**AUTH, CREDENTIAL_HEADER: "the-callers"})
    assert seen == [None]


def test_production_refuses_a_distributed_gateway_without_the_secret() -> None:
    settings = GatewaySettings(
        gateway_tokens=SecretStr(TOKEN), environment="production", gateway_session_secret="s"
    )
    with pytest.raises(ValueError, match="production needs EXOS_SERVICE_SECRET"):
        create_app(settings)
    create_app(settings.model_copy(update={"service_secret": SecretStr(SECRET)}))
    create_app(settings, services=[])  # routes in-process: no hop to protect
