"""Portal single sign-on against a real OpenID Connect provider (oidc-provider-mock, on
127.0.0.1 in a thread): the authorization code flow with PKCE, state and nonce; the
session it opens, its refresh and its end; roles; sign-out."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from exos_common.testing.oidc import OidcProvider, oidc_provider
from exos_gateway.app import create_app
from exos_gateway.sessions import SessionStore
from exos_gateway.settings import GatewaySettings

CLIENT_ID = "exos-portal"
API_AUDIENCE = "api://exos"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with oidc_provider() as running:
        yield running


def _services() -> list[FastAPI]:
    service = FastAPI()

    @service.get("/api/stats")
    async def stats(request: Request) -> dict[str, str | None]:
        return {
            "user": request.headers.get("x-exos-user"),
            "role": request.headers.get("x-exos-role"),
        }

    @service.post("/api/insights/sql")
    async def sql() -> dict[str, int]:
        return {"rows": 1}

    @service.get("/ask")
    async def ask_page() -> dict[str, str]:
        return {"page": "ask"}

    return [service]


class Portal:
    def __init__(self, provider: OidcProvider, **settings: object) -> None:
        self.provider = provider
        self.clock = Clock()
        self.sessions = SessionStore(clock=self.clock)
        defaults: dict[str, object] = {
            "gateway_auth": "oidc",
            "gateway_oidc_issuer": provider.url,
            "gateway_oidc_audience": API_AUDIENCE,
            "gateway_oidc_client_id": CLIENT_ID,
            "gateway_oidc_scopes": "openid profile email",
            "gateway_oidc_client_secret": "portal-secret",
            "gateway_cookie_secure": False,
        }
        self.settings = GatewaySettings(**{**defaults, **settings})  # type: ignore[arg-type]
        app = create_app(self.settings, services=_services(), sessions=self.sessions)
        self.client = TestClient(app, follow_redirects=False)

    def start(self, next_path: str = "/") -> str:
        """The provider's authorization URL that /login sends the browser to."""
        answer = self.client.get("/login", params={"next": next_path})
        assert answer.status_code == 303
        return answer.headers["location"]

    def sign_in(self, sub: str, next_path: str = "/") -> httpx.Response:
        back = self.provider.sign_in(self.start(next_path), sub)
        return self.client.get(back)


@pytest.fixture
def portal(provider: OidcProvider) -> Portal:
    provider.set_user("ann", {"email": "ann@example.com", "roles": ["viewer"]})
    provider.set_user("bob", {"email": "bob@example.com", "roles": ["analyst"]})
    provider.set_user("eve", {"email": "eve@example.com"})
    return Portal(provider)


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_login_sends_the_browser_to_the_provider_with_state_nonce_and_pkce(
    portal: Portal, provider: OidcProvider
) -> None:
    answer = portal.client.get("/login", params={"next": "/sessions"})
    location = answer.headers["location"]
    assert location.startswith(f"{provider.url}/oauth2/authorize?")
    query = _query(location)
    assert query["client_id"] == CLIENT_ID
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == "http://testserver/auth/callback"
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    cookie = answer.headers["set-cookie"].lower()
    assert query["state"].lower() not in cookie  # sealed: the state, nonce and verifier
    assert (
        "exos_login=" in cookie
        and "httponly" in cookie
        and "samesite=lax" in cookie
        and "path=/auth/callback" in cookie
    )
    assert set(query["scope"].split()) == {"openid", "profile", "email"}
    assert len(query["code_challenge"]) == 43  # base64url of a SHA-256 digest, unpadded


def test_pkce_challenge_matches_the_verifier_sent_with_the_code(
    portal: Portal, provider: OidcProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: dict[str, Any] = {}
    real_fetch = AsyncOAuth2Client.fetch_token

    async def spying_fetch(self: AsyncOAuth2Client, url: str, **kwargs: Any) -> Any:
        sent.update(kwargs)
        return await real_fetch(self, url, **kwargs)

    monkeypatch.setattr(AsyncOAuth2Client, "fetch_token", spying_fetch)
    location = portal.start()
    back = provider.sign_in(location, "ann")
    assert portal.client.get(back).status_code == 303
    digest = hashlib.sha256(sent["code_verifier"].encode()).digest()
    assert (
        base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == _query(location)["code_challenge"]
    )
    assert sent["code"] == _query(back)["code"]


def test_sign_in_opens_a_session_with_the_users_role(portal: Portal) -> None:
    answer = portal.sign_in("ann", "/sessions?x=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sessions?x=1"
    cookie = answer.headers["set-cookie"].lower()
    assert "exos_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    stats = portal.client.get("/api/stats")
    assert stats.json() == {"user": "ann", "role": "viewer"}
    assert portal.client.get("/", headers={"Accept": "text/html"}).status_code == 200


def test_viewer_is_refused_the_sql_console_and_ask_ai_and_analyst_is_not(
    portal: Portal, provider: OidcProvider
) -> None:
    portal.sign_in("ann")
    sql = portal.client.post("/api/insights/sql", json={"sql": "SELECT 1"})
    assert sql.status_code == 403
    assert (
        sql.json()["error"]["message"] == "ann@example.com has the viewer role; this needs analyst"
    )
    page = portal.client.get("/ask", headers={"Accept": "text/html"})
    assert page.status_code == 403
    assert "text/html" in page.headers["content-type"]
    assert "this needs analyst" in page.text

    analyst = Portal(provider)
    analyst.sign_in("bob")
    assert analyst.client.post("/api/insights/sql", json={"sql": "SELECT 1"}).status_code == 200
    assert analyst.client.get("/ask").status_code == 200
    # The shell shows Ask AI only to those who may open it.
    assert portal.client.get("/portal/config.json").json()["askAi"] is False
    assert analyst.client.get("/portal/config.json").json()["askAi"] is True
    assert '"askAi": false' in portal.client.get("/sessions").text


def test_a_user_without_a_role_gets_a_403_page_saying_why(portal: Portal) -> None:
    portal.sign_in("eve")
    page = portal.client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 403
    assert "eve@example.com is signed in but has no EXOS role" in page.text
    # ... and can sign out from there to switch account.
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    assert portal.client.post("/auth/logout", data={"csrf": csrf.group(1)}).status_code == 303
    assert portal.client.get("/api/stats").status_code == 401


def test_group_mapping_gives_roles(provider: OidcProvider) -> None:
    provider.set_user("gus", {"email": "gus@example.com", "groups": ["7f3a-analysts"]})
    portal = Portal(provider, gateway_oidc_group_roles="7f3a-analysts=analyst")
    portal.sign_in("gus")
    assert portal.client.get("/api/stats").json()["role"] == "analyst"


def test_a_callback_with_another_state_is_refused(portal: Portal, provider: OidcProvider) -> None:
    back = provider.sign_in(portal.start(), "ann")
    query = _query(back)
    # An attacker's own callback (their code and state) opened in the victim's browser.
    other = Portal(provider)
    attacker_back = provider.sign_in(other.start(), "eve")
    refused = portal.client.get(attacker_back)
    assert refused.status_code == 401
    assert "state mismatch" in refused.text
    # The same state in cookie and callback, but one the gateway never issued.
    portal.client.cookies.clear()
    portal.client.cookies.set("exos_login", "forged", path="/auth/callback")
    # (a sealed value of another gateway, or altered, reads the same as "forged")
    forged = portal.client.get("/auth/callback", params={"state": "forged", "code": query["code"]})
    assert forged.status_code == 401
    assert "unknown or too old" in forged.text
    assert portal.client.get("/api/stats").status_code == 401


def test_a_callback_is_used_once(portal: Portal, provider: OidcProvider) -> None:
    back = provider.sign_in(portal.start(), "ann")
    login_cookie = portal.client.cookies.get("exos_login")
    assert portal.client.get(back).status_code == 303
    portal.client.cookies.clear()
    portal.client.cookies.set("exos_login", login_cookie or "", path="/auth/callback")
    replayed = portal.client.get(back)
    assert replayed.status_code == 401


def test_an_id_token_with_another_nonce_is_refused(portal: Portal, provider: OidcProvider) -> None:
    location = portal.start()
    # The provider is sent a different nonce than the one the gateway keeps.
    tampered = location.replace(f"nonce={_query(location)['nonce']}", "nonce=replayed-nonce")
    refused = portal.client.get(provider.sign_in(tampered, "ann"))
    assert refused.status_code == 401
    assert "nonce" in refused.text
    assert portal.client.get("/api/stats").status_code == 401


def test_tokens_issued_to_another_application_are_refused(
    portal: Portal, provider: OidcProvider
) -> None:
    other = provider.token("someone-elses-app", "ann")
    for token in (other["id_token"], other["access_token"]):
        answer = portal.client.get("/api/stats", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401


def test_the_providers_error_is_shown(portal: Portal) -> None:
    answer = portal.client.get("/auth/callback", params={"error": "access_denied"})
    assert answer.status_code == 401
    assert "access_denied" in answer.text


def test_an_expired_session_is_refreshed_with_the_refresh_token(portal: Portal) -> None:
    portal.sign_in("ann")
    session = portal.sessions.get(portal.client.cookies["exos_session"])
    assert session is not None and session.refresh_token
    portal.clock.now = session.tokens_expire_at + 1  # inside the session's 8 hours
    assert portal.sessions.needs_refresh(session)
    answer = portal.client.get("/api/stats")
    assert answer.json() == {"user": "ann", "role": "viewer"}
    # The renewed session comes back in the cookie; this provider answers a refresh with
    # an access token of an hour and no ID token.
    assert "exos_session=" in answer.headers["set-cookie"]
    renewed = portal.sessions.get(portal.client.cookies["exos_session"])
    assert renewed is not None and not portal.sessions.needs_refresh(renewed)
    assert renewed.tokens_expire_at == pytest.approx(portal.clock.now + 3600, abs=5)
    assert renewed.csrf_token == session.csrf_token


def test_an_expired_session_that_cannot_refresh_goes_back_to_login(
    portal: Portal, provider: OidcProvider
) -> None:
    portal.sign_in("ann")
    provider.revoke("ann")
    portal.clock.now += 2 * 3600
    page = portal.client.get("/sessions", headers={"Accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fsessions"
    assert portal.client.get("/api/stats").status_code == 401
    # The ended session's cookie is dropped, so the provider is not asked again.
    assert "exos_session" not in portal.client.cookies


def test_a_session_ends_at_its_maximum_age_whatever_the_tokens(portal: Portal) -> None:
    portal.sign_in("ann")
    portal.clock.now += portal.settings.gateway_session_max_age_s + 1
    page = portal.client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")


def test_sign_out_needs_csrf_and_ends_the_session_at_the_provider_too(
    portal: Portal, provider: OidcProvider
) -> None:
    portal.sign_in("ann")
    assert portal.client.post("/auth/logout", data={"csrf": "x"}).status_code == 403
    cross_site = portal.client.post(
        "/auth/logout",
        data={"csrf": portal.client.get("/portal/config.json").json()["csrf"]},
        headers={"Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    assert portal.client.get("/api/stats").status_code == 200
    csrf = portal.client.get("/portal/config.json").json()["csrf"]
    answer = portal.client.post("/auth/logout", data={"csrf": csrf})
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(f"{provider.url}/oauth2/end_session?")
    query = _query(location)
    assert query["post_logout_redirect_uri"] == "http://testserver/login?signed_out=1"
    assert query["client_id"] == CLIENT_ID
    assert portal.client.get("/api/stats").status_code == 401


def test_the_token_form_stays_for_service_accounts(provider: OidcProvider) -> None:
    portal = Portal(provider, gateway_tokens="ci-bot:ci-secret-token:viewer")
    form = portal.client.get("/login", params={"method": "token"})
    assert form.status_code == 200 and 'name="token"' in form.text
    assert "Sign in with your company account" in form.text
    signed_in = portal.client.post("/auth/login", data={"token": "ci-secret-token", "next": "/"})
    assert signed_in.status_code == 303
    assert portal.client.get("/api/stats").json() == {"user": "ci-bot", "role": "viewer"}
    api = httpx.Headers({"Authorization": "Bearer ci-secret-token"})
    portal.client.cookies.clear()
    assert portal.client.get("/api/stats", headers=api).status_code == 200


def test_login_says_so_when_the_provider_is_unreachable() -> None:
    settings = GatewaySettings(
        gateway_auth="oidc",
        gateway_oidc_issuer="http://127.0.0.1:9",
        gateway_oidc_audience=API_AUDIENCE,
        gateway_oidc_client_id=CLIENT_ID,
    )
    client = TestClient(create_app(settings), follow_redirects=False)
    answer = client.get("/login")
    assert answer.status_code == 503
    assert "Sign-in unavailable" in answer.text
