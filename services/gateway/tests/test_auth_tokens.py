"""Local-token auth: API calls need a bearer token, pages send the browser to sign in,
the session cookie opens the portal after a successful sign-in."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from exos_gateway import auth
from exos_gateway.app import create_app
from exos_gateway.auth import LocalTokens
from exos_gateway.login import safe_next
from exos_gateway.roles import Role, parse_token_entries
from exos_gateway.sessions import Session, SessionStore
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


def test_sign_in_sets_an_opaque_httponly_lax_cookie_that_opens_the_portal(
    client: TestClient,
) -> None:
    refused = client.post("/auth/login", data={"token": "wrong", "next": "/"})
    assert refused.status_code == 401
    assert "not accepted" in refused.text
    signed_in = client.post("/auth/login", data={"token": TOKEN, "next": "/sessions"})
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/sessions"
    cookie = signed_in.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain HTTP and the settings do not ask for it
    assert TOKEN.lower() not in cookie  # a session id, never the token itself
    assert client.get("/api/stats").status_code == 200  # the cookie jar carries it
    assert client.get("/", headers={"Accept": "text/html"}).status_code == 200


def test_the_cookie_is_secure_over_tls_even_when_settings_allow_plain_http() -> None:
    settings = GatewaySettings(gateway_tokens=TOKEN, gateway_cookie_secure=False)
    tls = TestClient(create_app(settings), base_url="https://testserver", follow_redirects=False)
    signed_in = tls.post("/auth/login", data={"token": TOKEN, "next": "/"})
    assert "; secure" in signed_in.headers["set-cookie"].lower()


def test_a_forged_or_altered_session_cookie_is_refused(client: TestClient) -> None:
    client.post("/auth/login", data={"token": TOKEN, "next": "/"})
    value = client.cookies["exos_session"]
    client.cookies.clear()
    assert client.get("/api/stats", headers={"Cookie": f"exos_session={value}"}).status_code == 200
    flipped = value[:40] + ("A" if value[40] != "A" else "B") + value[41:]
    other_key = SessionStore("another-gateways-secret")
    now = time.time()
    foreign = other_key.create(
        Session("mallory", "mallory", Role.admin, "tokens", now + 60, now + 60)
    )
    for forged in (flipped, value[:-4], "garbage", TOKEN, foreign, ""):
        answer = client.get("/api/stats", headers={"Cookie": f"exos_session={forged}"})
        assert answer.status_code == 401, forged


def test_sessions_sealed_with_the_shared_secret_open_on_every_replica() -> None:
    settings = GatewaySettings(
        gateway_tokens=TOKEN, gateway_cookie_secure=False, gateway_session_secret="shared"
    )
    first = TestClient(create_app(settings, services=[_api_service()]), follow_redirects=False)
    second = TestClient(create_app(settings, services=[_api_service()]), follow_redirects=False)
    first.post("/auth/login", data={"token": TOKEN, "next": "/"})
    cookie = first.cookies["exos_session"]
    answer = second.get("/api/stats", headers={"Cookie": f"exos_session={cookie}"})
    assert answer.status_code == 200
    assert len(cookie) < 1024  # far below browsers' 4 KB per cookie


def test_production_needs_the_session_secret() -> None:
    with pytest.raises(ValueError, match="EXOS_GATEWAY_SESSION_SECRET"):
        GatewaySettings(gateway_tokens=TOKEN, environment="production")
    GatewaySettings(gateway_tokens=TOKEN, environment="production", gateway_session_secret="s")


def _csrf(client: TestClient) -> str:
    page = client.get("/portal/config.json")
    token = page.json()["csrf"]
    assert isinstance(token, str) and len(token) >= 32
    return token


def test_sign_out_needs_the_sessions_csrf_token(client: TestClient) -> None:
    client.post("/auth/login", data={"token": TOKEN, "next": "/"})
    assert client.post("/auth/logout").status_code == 403
    assert client.post("/auth/logout", data={"csrf": "guess"}).status_code == 403
    assert client.get("/auth/logout").status_code == 405  # never by a link or image
    assert client.get("/api/stats").status_code == 200  # still signed in
    signed_out = client.post("/auth/logout", data={"csrf": _csrf(client)})
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/login?signed_out=1"
    assert client.get("/api/stats").status_code == 401


def test_a_cross_site_post_is_refused_before_anything_runs(client: TestClient) -> None:
    client.post("/auth/login", data={"token": TOKEN, "next": "/"})
    csrf = _csrf(client)
    evil = client.post(
        "/auth/logout", data={"csrf": csrf}, headers={"Origin": "https://evil.example"}
    )
    assert evil.status_code == 403
    assert evil.json()["error"]["code"] == "foreign_origin"
    assert (
        client.post("/auth/logout", data={"csrf": csrf}, headers={"Origin": "null"}).status_code
        == 403
    )
    assert client.get("/api/stats").status_code == 200
    own = client.post("/auth/logout", data={"csrf": csrf}, headers={"Origin": "http://testserver"})
    assert own.status_code == 303


def test_local_tokens_carry_their_role() -> None:
    service = _api_service()

    @service.post("/api/insights/sql")
    async def sql() -> dict[str, int]:
        return {"rows": 0}

    settings = GatewaySettings(
        gateway_tokens=f"legacy-admin-token,bot:{TOKEN}-v:viewer,ana:{TOKEN}-a:analyst"
    )
    client = TestClient(create_app(settings, services=[service]))

    def call(token: str, method: str, path: str) -> int:
        answer = client.request(method, path, headers={"Authorization": f"Bearer {token}"})
        return answer.status_code

    assert call(f"{TOKEN}-v", "GET", "/api/stats") == 200
    assert call(f"{TOKEN}-v", "POST", "/api/insights/sql") == 403
    assert call(f"{TOKEN}-a", "POST", "/api/insights/sql") == 200
    assert call(f"{TOKEN}-a", "DELETE", "/api/stats") == 403  # writes are for admins
    assert call("legacy-admin-token", "POST", "/api/insights/sql") == 200
    assert call("legacy-admin-token", "DELETE", "/api/stats") == 405  # allowed, no such route


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ("plain", [("token-1", "plain", Role.admin)]),
        ("ci:abc", [("ci", "abc", Role.admin)]),
        (
            "ci:abc:Viewer, ana:def:analyst",
            [("ci", "abc", Role.viewer), ("ana", "def", Role.analyst)],
        ),
    ],
)
def test_token_entries(entries: str, expected: list[tuple[str, str, Role]]) -> None:
    parsed = parse_token_entries([e.strip() for e in entries.split(",")])
    assert [(t.name, t.token, t.role) for t in parsed] == expected


@pytest.mark.parametrize("entries", ["ci:abc:root", "a:b:c:d", ":abc", "ci::viewer"])
def test_malformed_token_entries_stop_the_start(entries: str) -> None:
    with pytest.raises(ValueError):
        GatewaySettings(gateway_tokens=entries)


async def test_every_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = auth.hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    tokens = LocalTokens(parse_token_entries(["first", "second", "third"]))
    principal = await tokens.verify("first")
    assert principal is not None and principal.subject == "token-1"
    # No early exit on the match, and digests (equal length) rather than the tokens.
    assert len(compared) == 3
    assert all(len(a) == len(b) == 32 for a, b in compared)


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
