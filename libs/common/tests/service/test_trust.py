"""The read services' door: the gateway's credential (missing, wrong, duplicated, right),
the open probe paths, the role the handler sees, the start-up refusal, and who sees
personal data."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI, Request, WebSocket
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from pydantic import SecretStr, ValidationError
from starlette.websockets import WebSocketDisconnect

from exos_common.service.errors import install_error_handlers
from exos_common.service.health import health_router
from exos_common.service.pii import MASK, PiiPolicy, mask
from exos_common.service.trust import (
    CREDENTIAL_HEADER,
    ROLE_HEADER,
    install_service_trust,
    refuse_anonymous_distributed,
)
from exos_common.settings import ServiceTrustSettings

SECRET = "s3cret-of-the-gateway"


def _app(trust: ServiceTrustSettings) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(health_router(CollectorRegistry(), {}))
    policy = PiiPolicy.from_settings(trust)

    @app.get("/api/echo")
    def echo(request: Request) -> dict[str, str | None]:
        return {
            "role": request.headers.get(ROLE_HEADER),
            "credential": request.headers.get(CREDENTIAL_HEADER),
        }

    @app.get("/api/private", dependencies=[Depends(policy.required("this page"))])
    def private() -> dict[str, str]:
        return {"email": "ann@example.test"}

    install_service_trust(app, trust)
    return app


@pytest.fixture
def client() -> TestClient:
    return TestClient(_app(ServiceTrustSettings(service_secret=SecretStr(SECRET))))


def test_no_credential_is_refused_with_the_reason(client: TestClient) -> None:
    answer = client.get("/api/echo")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "service_credential_missing"
    assert "go through the gateway" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    "presented", ["wrong", SECRET + "x", SECRET[:-1], "", f"Bearer {SECRET}", SECRET.upper()]
)
def test_a_wrong_credential_is_refused(client: TestClient, presented: str) -> None:
    answer = client.get("/api/echo", headers={CREDENTIAL_HEADER: presented})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "service_credential_invalid"


def test_two_credentials_are_refused_even_if_one_is_right(client: TestClient) -> None:
    answer = client.get(
        "/api/echo", headers=[(CREDENTIAL_HEADER, "wrong"), (CREDENTIAL_HEADER, SECRET)]
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "service_credential_invalid"


def test_the_right_credential_passes_and_the_handler_does_not_see_it(client: TestClient) -> None:
    answer = client.get("/api/echo", headers={CREDENTIAL_HEADER: SECRET, ROLE_HEADER: "analyst"})
    assert answer.status_code == 200
    assert answer.json() == {"role": "analyst", "credential": None}


def test_no_role_from_the_gateway_means_the_least_role(client: TestClient) -> None:
    answer = client.get("/api/echo", headers={CREDENTIAL_HEADER: SECRET})
    assert answer.json() == {"role": "viewer", "credential": None}
    refused = client.get("/api/private", headers={CREDENTIAL_HEADER: SECRET})
    assert refused.status_code == 403
    assert "the viewer role may not see it" in refused.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_and_the_scraper_need_no_credential(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_a_probe_path_prefix_is_not_a_way_in(client: TestClient) -> None:
    for path in ("/healthz/../api/echo", "/metrics/x", "/api/echo?/healthz"):
        assert client.get(path).status_code in (401, 404)
    assert client.get("/healthzx").status_code == 401


def test_without_a_secret_nothing_is_checked() -> None:
    open_client = TestClient(_app(ServiceTrustSettings()))
    assert open_client.get("/api/echo").json() == {"role": None, "credential": None}


def test_serve_refuses_a_read_service_without_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EXOS_SERVICE_SECRET", "EXOS_READ_ALLOW_ANONYMOUS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="replay refuses to start without EXOS_SERVICE_SECRET"):
        refuse_anonymous_distributed("replay", ServiceTrustSettings())
    monkeypatch.setenv("EXOS_READ_ALLOW_ANONYMOUS", "true")
    refuse_anonymous_distributed("replay", ServiceTrustSettings())  # opened on purpose
    monkeypatch.setenv("EXOS_READ_ALLOW_ANONYMOUS", "false")
    monkeypatch.setenv("EXOS_SERVICE_SECRET", SECRET)
    refuse_anonymous_distributed("replay", ServiceTrustSettings())


def test_an_empty_secret_variable_is_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXOS_SERVICE_SECRET", "")
    monkeypatch.delenv("EXOS_READ_ALLOW_ANONYMOUS", raising=False)
    with pytest.raises(ValueError, match="refuses to start"):
        refuse_anonymous_distributed("query-api", ServiceTrustSettings())


@pytest.mark.parametrize(
    ("roles", "role", "allowed"),
    [
        ("analyst,admin", "viewer", False),
        ("analyst,admin", "analyst", True),
        ("analyst,admin", "ADMIN", True),
        ("admin", "analyst", False),
        ("viewer,analyst,admin", "viewer", True),
        ("analyst,admin", "root", False),
        ("analyst,admin", "", False),
        ("analyst,admin", None, True),  # nothing checks who asks: an open test app
    ],
)
def test_pii_roles(roles: str, role: str | None, allowed: bool) -> None:
    policy = PiiPolicy.from_settings(ServiceTrustSettings(pii_roles=roles))
    assert policy.allows(role) is allowed


def test_unknown_pii_roles_stop_the_start() -> None:
    with pytest.raises(ValidationError, match="unknown roles"):
        ServiceTrustSettings(pii_roles="analyst,auditor")


def test_mask() -> None:
    assert mask("ann@example.test", True) == "ann@example.test"
    assert mask("ann@example.test", False) == MASK
    assert mask("", False) == ""


def test_a_websocket_without_the_credential_is_closed() -> None:
    app = FastAPI()

    @app.websocket("/api/live")
    async def live(socket: WebSocket) -> None:
        await socket.accept()
        await socket.send_text("data")
        await socket.close()

    install_service_trust(app, ServiceTrustSettings(service_secret=SecretStr(SECRET)))
    client = TestClient(app)
    for headers in ({}, {CREDENTIAL_HEADER: "wrong"}):
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            client.websocket_connect("/api/live", headers=headers) as socket,
        ):
            socket.receive_text()
        assert closed.value.code == 1008
    with client.websocket_connect("/api/live", headers={CREDENTIAL_HEADER: SECRET}) as socket:
        assert socket.receive_text() == "data"
