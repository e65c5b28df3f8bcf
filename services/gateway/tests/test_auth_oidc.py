"""OIDC bearer tokens: verified against the issuer's JWKS found through discovery
(signature, issuer, audience, expiry); anything else is 401. Roles from their claims.
A portal session's refresh against a token endpoint whose answers each test chooses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from exos_common.testing.issuer import AUDIENCE, Issuer
from exos_common.testing.servers import serve_in_thread
from exos_gateway.app import create_app
from exos_gateway.auth import create_provider
from exos_gateway.roles import Role
from exos_gateway.sessions import Session, SessionStore
from exos_gateway.settings import GatewaySettings
from exos_gateway.sso import PortalSignOn


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    the_issuer = Issuer()
    with serve_in_thread(the_issuer.app()) as url:
        the_issuer.url = url
        yield the_issuer


@pytest.fixture
def client(issuer: Issuer) -> TestClient:
    service = FastAPI()

    @service.get("/api/stats")
    async def stats() -> dict[str, int]:
        return {"rows": 1}

    settings = GatewaySettings(
        gateway_auth="oidc", gateway_oidc_issuer=issuer.url, gateway_oidc_audience=AUDIENCE
    )
    return TestClient(create_app(settings, services=[service]))


def _get(client: TestClient, token: str) -> int:
    return client.get("/api/stats", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_valid_token_of_the_issuer_is_accepted(client: TestClient, issuer: Issuer) -> None:
    assert _get(client, issuer.token()) == 200


def test_expired_foreign_and_misaddressed_tokens_are_refused(
    client: TestClient, issuer: Issuer
) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert _get(client, issuer.token(exp=int(time.time()) - 600)) == 401
    assert _get(client, issuer.token(aud="api://someone-else")) == 401
    assert _get(client, issuer.token(iss="https://evil.example")) == 401
    assert _get(client, issuer.token(key=other_key)) == 401
    assert _get(client, "not-a-jwt") == 401
    unsigned = jwt.encode({"iss": issuer.url, "aud": AUDIENCE, "sub": "x"}, None, "none")
    assert _get(client, unsigned) == 401


def test_symmetric_tokens_and_tokens_without_audience_are_refused(
    client: TestClient, issuer: Issuer
) -> None:
    now = int(time.time())
    claims = {"iss": issuer.url, "aud": AUDIENCE, "sub": "ann", "exp": now + 300}
    # HS256 signed with the public key's text: the classic key-confusion forgery.
    public_pem = issuer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = jwt.encode(claims, public_pem.hex(), algorithm="HS256", headers={"kid": "k1"})
    assert _get(client, forged) == 401
    no_audience = issuer.token()
    without = {
        k: v
        for k, v in jwt.decode(no_audience, options={"verify_signature": False}).items()
        if k != "aud"
    }
    assert (
        _get(client, jwt.encode(without, issuer.key, algorithm="RS256", headers={"kid": "k1"}))
        == 401
    )


def test_roles_come_from_the_roles_claim_or_group_mapping(issuer: Issuer) -> None:
    service = FastAPI()

    @service.get("/api/stats")
    async def stats(request: Request) -> dict[str, str | None]:
        return {
            "user": request.headers.get("x-exos-user"),
            "role": request.headers.get("x-exos-role"),
        }

    @service.post("/api/insights/sql")
    async def sql() -> dict[str, int]:
        return {"rows": 0}

    settings = GatewaySettings(
        gateway_auth="oidc",
        gateway_oidc_issuer=issuer.url,
        gateway_oidc_audience=AUDIENCE,
        gateway_oidc_group_roles="g-analysts=analyst,g-admins=admin",
    )
    client = TestClient(create_app(settings, services=[service]))

    def call(token: str, method: str = "GET", path: str = "/api/stats") -> Any:
        headers = {
            "Authorization": f"Bearer {token}",
            "X-Exos-Role": "admin",  # a copy from outside is never believed
            "X-Exos-User": "mallory",
        }
        return client.request(method, path, headers=headers)

    viewer = issuer.token()
    assert call(viewer).json() == {"user": "ann", "role": "viewer"}
    refused = call(viewer, "POST", "/api/insights/sql")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "ann has the viewer role; this needs analyst"
    analyst = issuer.token(roles=[], groups=["g-other", "g-analysts"])
    assert call(analyst, "POST", "/api/insights/sql").status_code == 200
    both = issuer.token(roles=["Viewer", "someone-elses-role"], groups=["g-admins"])
    assert call(both).json()["role"] == "admin"
    nobody = call(issuer.token(roles=None))
    assert nobody.status_code == 403
    assert "has no EXOS role" in nobody.json()["error"]["message"]


def test_oidc_is_refused_without_an_audience(issuer: Issuer) -> None:
    with pytest.raises(ValueError, match="EXOS_GATEWAY_OIDC_AUDIENCE"):
        GatewaySettings(gateway_auth="oidc", gateway_oidc_issuer=issuer.url)


class RefreshingIssuer(Issuer):
    """Also a token endpoint that answers refreshes with the ID token a test chose."""

    def __init__(self) -> None:
        super().__init__()
        self.next_answer: tuple[int, dict[str, Any]] = (400, {"error": "invalid_grant"})
        self.refresh_tokens_seen: list[str] = []

    def app(self) -> FastAPI:
        issuer = super().app()

        @issuer.get("/.well-known/openid-configuration", include_in_schema=False)
        async def discovery() -> dict[str, str]:
            return {
                "issuer": self.url,
                "jwks_uri": f"{self.url}/keys",
                "token_endpoint": f"{self.url}/token",
                "authorization_endpoint": f"{self.url}/authorize",
            }

        # The subclass's discovery (with a token endpoint) answers first.
        issuer.router.routes.insert(0, issuer.router.routes.pop())

        @issuer.post("/token")
        async def token(request: Request) -> JSONResponse:
            form = parse_qs((await request.body()).decode())
            self.refresh_tokens_seen.append(form["refresh_token"][0])
            status, body = self.next_answer
            return JSONResponse(body, status_code=status)

        return issuer


@pytest.fixture(scope="module")
def refreshing() -> Iterator[RefreshingIssuer]:
    the_issuer = RefreshingIssuer()
    with serve_in_thread(the_issuer.app()) as url:
        the_issuer.url = url
        yield the_issuer


def _sign_on(issuer: Issuer) -> PortalSignOn:
    settings = GatewaySettings(
        gateway_auth="oidc",
        gateway_oidc_issuer=issuer.url,
        gateway_oidc_audience=AUDIENCE,
        gateway_oidc_client_id="portal-client",
        gateway_oidc_client_secret="s",
    )
    provider = create_provider(settings)
    assert provider is not None
    return PortalSignOn(provider, settings, SessionStore())


def _expired_session() -> Session:
    now = time.time()
    return Session("ann", "ann", Role.viewer, "oidc", now + 3600, now - 1, "refresh-1")


async def test_a_refresh_with_a_new_id_token_rereads_the_role(
    refreshing: RefreshingIssuer,
) -> None:
    id_token = refreshing.token(aud="portal-client", roles=["analyst"])
    refreshing.next_answer = (
        200,
        {"access_token": "a", "token_type": "Bearer", "expires_in": 300, "id_token": id_token,
         "refresh_token": "refresh-2"},
    )  # fmt: skip
    session = _expired_session()
    assert await _sign_on(refreshing).refresh(session) is True
    assert refreshing.refresh_tokens_seen[-1] == "refresh-1"
    assert session.role is Role.analyst
    assert session.refresh_token == "refresh-2"
    assert session.tokens_expire_at == pytest.approx(time.time() + 300, abs=5)


@pytest.mark.parametrize(
    "answer",
    [
        (400, {"error": "invalid_grant"}),  # revoked or expired refresh token
        (500, {"error": "server_error"}),
        # An ID token for another client, or without a key the issuer has: not renewed.
        (200, {"access_token": "a", "token_type": "Bearer", "expires_in": 300, "id_token": "x"}),
        (200, {"access_token": "a", "token_type": "Bearer", "expires_in": 0}),
    ],
)
async def test_a_refused_refresh_ends_the_session(
    refreshing: RefreshingIssuer, answer: tuple[int, dict[str, Any]]
) -> None:
    refreshing.next_answer = answer
    session = _expired_session()
    assert await _sign_on(refreshing).refresh(session) is False
    assert session.role is Role.viewer


async def test_a_refresh_with_an_id_token_for_another_client_is_refused(
    refreshing: RefreshingIssuer,
) -> None:
    refreshing.next_answer = (
        200,
        {"access_token": "a", "token_type": "Bearer", "expires_in": 300,
         "id_token": refreshing.token(aud="someone-else", roles=["admin"])},
    )  # fmt: skip
    session = _expired_session()
    assert await _sign_on(refreshing).refresh(session) is False
    assert session.role is Role.viewer


async def test_a_session_without_a_refresh_token_is_not_refreshed(
    refreshing: RefreshingIssuer,
) -> None:
    session = _expired_session()
    session.refresh_token = None
    assert await _sign_on(refreshing).refresh(session) is False
