"""Browser-side defences: the Content-Security-Policy and frame headers on every answer
(pages, API, errors, redirects, assets), no page that loads a script from another
site, the API docs served from the gateway's own files, and path traversal refused."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from exos_gateway.app import create_app
from exos_gateway.headers import content_security_policy
from exos_gateway.pages import PAGES
from exos_gateway.settings import GatewaySettings

TOKEN = "headers-test-token"
EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob: https:; font-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SCRIPT_SRC = re.compile(r"<script[^>]*\bsrc=\"([^\"]+)\"", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)


@pytest.fixture
def client() -> TestClient:
    settings = GatewaySettings(gateway_tokens=TOKEN, gateway_cookie_secure=False)
    service = FastAPI()

    @service.get("/api/stats")
    async def stats() -> dict[str, int]:
        return {"rows": 1}

    app = create_app(settings, services=[service])
    test_client = TestClient(app, follow_redirects=False)
    test_client.post("/auth/login", data={"token": TOKEN, "next": "/"})
    return test_client


def _assert_defended(answer_headers: dict[str, str], what: str) -> None:
    assert answer_headers.get("content-security-policy") == EXPECTED_CSP, what
    assert answer_headers.get("x-frame-options") == "DENY", what
    assert answer_headers.get("x-content-type-options") == "nosniff", what
    assert answer_headers.get("referrer-policy") == "same-origin", what


PAGE_PATHS = [*PAGES, "/guide", "/api/docs", "/login", "/login?method=token"]


def test_every_answer_carries_the_headers(client: TestClient) -> None:
    for path in [*PAGE_PATHS, "/api/stats", "/healthz", "/assets/portal.css", "/nowhere"]:
        answer = client.get(path, headers={"Accept": "text/html"})
        assert answer.status_code in (200, 404), path
        _assert_defended(dict(answer.headers), path)
    signed_out = TestClient(client.app, follow_redirects=False)
    for answer in (
        signed_out.get("/", headers={"Accept": "text/html"}),  # 303 to the login
        signed_out.get("/api/stats"),  # 401
        signed_out.post("/auth/logout"),  # 403
    ):
        _assert_defended(dict(answer.headers), f"{answer.request.url} {answer.status_code}")


def test_no_page_loads_a_script_from_another_site_or_runs_an_inline_one(
    client: TestClient,
) -> None:
    for path in PAGE_PATHS:
        page = client.get(path).text
        sources = SCRIPT_SRC.findall(page)
        assert all(src.startswith("/") and not src.startswith("//") for src in sources), (
            path,
            sources,
        )
        assert INLINE_SCRIPT.findall(page) == [], path


def test_api_docs_come_from_the_gateway(client: TestClient) -> None:
    page = client.get("/api/docs").text
    assert SCRIPT_SRC.findall(page) == [
        "/assets/swagger/swagger-ui-bundle.js",
        "/assets/swagger-init.js",
    ]
    bundle = client.get("/assets/swagger/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert len(bundle.content) > 500_000  # the real bundle, not a stub
    assert client.get("/assets/swagger/swagger-ui.css").status_code == 200
    assert client.get("/assets/swagger/index.html").status_code == 404
    assert client.get("/assets/swagger-init.js").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/assets/../settings.py",
        "/assets/%2e%2e/settings.py",
        "/assets/..%2fsettings.py",
        "/assets/home.html",  # fragments are not assets
        "/assets/swagger/..%2f__init__.py",
        "/assets/vendor/..%2f..%2fpackage.json",
    ],
)
def test_path_traversal_is_refused(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert b"GatewaySettings" not in answer.content


def test_the_portals_telemetry_and_the_providers_logout_are_allowed_by_name() -> None:
    settings = GatewaySettings(
        gateway_auth="oidc",
        gateway_oidc_issuer="https://login.microsoftonline.com/tenant-id/v2.0",
        gateway_oidc_audience="api://exos",
        gateway_instrument=True,
        gateway_instrument_url="https://ingest.example.com:4318/v1",
    )
    policy = content_security_policy(settings)
    assert "connect-src 'self' https://ingest.example.com:4318;" in policy
    assert "form-action 'self' https://login.microsoftonline.com;" in policy
    assert "script-src 'self';" in policy
