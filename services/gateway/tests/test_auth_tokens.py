"""Local-token auth: API calls need a bearer token, pages send the browser to sign in,
the session cookie opens the portal after a successful sign-in."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from exos_gateway.app import create_app
from exos_gateway.login import safe_next
from exos_gateway.settings import GatewaySettings

TOKEN = "s3cret-token-for-tests"


def _api_service() -> FastAPI:
    service = FastAPI()

    @service.get("/api/stats")
    async def stats() -> dict[str, int]:
        return {"rows": 3}

    return service


@pytest.fixture
def client() -> TestClient:
    settings = GatewaySettings(gateway_tokens=TOKEN, gateway_cookie_secure=False)
    return TestClient(create_app(settings, services=[_api_service()]), follow_redirects=False)


def test_api_without_token_is_401_with_bearer_challenge(client: TestClient) -> None:
    answer = client.get("/api/stats")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="exos"'
    assert answer.json()["error"]["code"] == "unauthorized"


def test_api_with_wrong_token_is_401(client: TestClient) -> None:
    answer = client.get("/api/stats", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401


def test_api_with_token_answers(client: TestClient) -> None:
    answer = client.get("/api/stats", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.json() == {"rows": 3}


def test_page_without_session_redirects_to_login(client: TestClient) -> None:
    answer = client.get("/?from=2026-01-01", headers={"Accept": "text/html"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2F%3Ffrom%3D2026-01-01"


def test_sign_in_sets_a_strict_httponly_cookie_that_opens_the_portal(client: TestClient) -> None:
    refused = client.post("/auth/login", data={"token": "wrong", "next": "/"})
    assert refused.status_code == 401
    assert "not accepted" in refused.text
    signed_in = client.post("/auth/login", data={"token": TOKEN, "next": "/sessions"})
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/sessions"
    cookie = signed_in.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/api/stats").status_code == 200  # the cookie jar carries it
    assert client.get("/", headers={"Accept": "text/html"}).status_code == 200
    client.post("/auth/logout")
    assert client.get("/api/stats").status_code == 401


def test_health_and_login_stay_public(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/sessions?x=1", "/sessions?x=1"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
    ],
)
def test_next_only_goes_to_this_site(target: str, expected: str) -> None:
    assert safe_next(target) == expected


def test_settings_refuse_tokens_auth_without_tokens_and_open_production() -> None:
    with pytest.raises(ValueError, match="EXOS_GATEWAY_TOKENS"):
        GatewaySettings(gateway_auth="tokens")
    with pytest.raises(ValueError, match="production"):
        GatewaySettings(gateway_auth="none", environment="production")
    with pytest.raises(ValueError, match="OIDC_ISSUER"):
        GatewaySettings(gateway_auth="oidc")
