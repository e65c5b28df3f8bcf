"""Portal single sign-on in real Chromium: the gateway (with query-api, replay and
insights mounted on a chDB database) and a real OpenID Connect provider
(oidc-provider-mock) each on their own 127.0.0.1 port. The browser signs in through the
provider's login page, uses the portal under its Content-Security-Policy, meets the
analyst-only pages as a viewer, survives another site's sign-out form, and signs out
through the provider."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.sync_api import Page, expect

from exos_common.store import Store
from exos_common.testing.oidc import OidcProvider, oidc_provider
from exos_common.testing.servers import serve_in_thread
from exos_gateway.app import create_app
from exos_gateway.settings import GatewaySettings
from exos_insights.app import create_app as create_insights
from exos_query_api.app import create_app as create_query_api
from exos_replay.app import create_app as create_replay


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with oidc_provider() as running:
        running.set_user("ann", {"email": "ann@example.com", "roles": ["viewer"]})
        running.set_user("bob", {"email": "bob@example.com", "roles": ["analyst"]})
        yield running


@pytest.fixture
def portal(provider: OidcProvider, migrated_store: Store) -> Iterator[str]:
    settings = GatewaySettings(
        gateway_auth="oidc",
        gateway_oidc_issuer=provider.url,
        gateway_oidc_audience="api://exos",
        gateway_oidc_client_id="exos-portal",
        gateway_oidc_client_secret="portal-secret",
        gateway_oidc_scopes="openid profile email",
        gateway_cookie_secure=False,
    )
    services = [
        create_query_api(store=migrated_store),
        create_replay(store=migrated_store),
        create_insights(store=migrated_store),
    ]
    with serve_in_thread(create_app(settings, services=services)) as url:
        yield url


@pytest.fixture
def other_site(portal: str) -> Iterator[str]:
    """A page of another site that posts a sign-out form to the portal on load."""
    site = FastAPI()

    @site.get("/", response_class=HTMLResponse)
    async def attack() -> str:
        return (
            f'<form id="f" method="post" action="{portal}/auth/logout">'
            '<input name="csrf" value="guess"></form>'
            "<script>document.getElementById('f').submit()</script>"
        )

    with serve_in_thread(site) as url:
        # `localhost` is another site than the portal's 127.0.0.1.
        yield url.replace("127.0.0.1", "localhost")


def _csp_violations(page: Page) -> list[str]:
    problems: list[str] = page.problems  # type: ignore[attr-defined]
    return [p for p in problems if "Content Security Policy" in p]


def _sign_in(page: Page, portal: str, sub: str, path: str = "/sessions") -> None:
    page.goto(f"{portal}{path}")
    # The portal sent the browser to the provider's login page.
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()
    assert page.url.startswith(f"{page.url.split('/oauth2/')[0]}/oauth2/authorize?")
    page.fill("input[name=sub]", sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{portal}{path}")


def test_sign_in_through_the_provider_and_out_again(
    page: Page, portal: str, provider: OidcProvider
) -> None:
    _sign_in(page, portal, "ann")
    expect(page.locator("#shell")).to_contain_text("Sessions")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    # A viewer is not shown what they may not open.
    expect(page.locator("nav.main-nav")).not_to_contain_text("Ask AI")
    cookies = {c["name"]: c for c in page.context.cookies(portal)}
    session = cookies["exos_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert "exos_login" not in cookies  # the sign-in's state cookie is spent

    for path in ("/", "/process-mining", "/analytics", "/site-health", "/guide", "/api/docs"):
        page.goto(f"{portal}{path}")
        expect(page.locator("body")).not_to_be_empty()
    page.goto(f"{portal}/api/docs")
    expect(page.locator(".swagger-ui")).to_be_visible()
    assert _csp_violations(page) == []

    page.goto(f"{portal}/sessions")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="End Session")).to_be_visible()
    assert page.url.startswith(f"{provider.url}/oauth2/end_session?")
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(f"{portal}/login?signed_out=1")
    expect(page.get_by_role("alert")).to_have_text("You are signed out.")
    assert "exos_session" not in {c["name"] for c in page.context.cookies(portal)}
    assert _csp_violations(page) == []


def test_a_viewer_meets_a_403_page_on_ask_ai_and_an_analyst_does_not(
    page: Page, portal: str
) -> None:
    _sign_in(page, portal, "ann", "/ask")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text(
        "ann@example.com has the viewer role; this needs analyst"
    )
    analyst = page.context.browser.new_page()  # type: ignore[union-attr]
    try:
        _sign_in(analyst, portal, "bob")
        expect(analyst.locator("nav.main-nav")).to_contain_text("Ask AI")
        analyst.locator("nav.main-nav").get_by_role("link", name="Ask AI").click()
        analyst.wait_for_url(f"{portal}/ask*")
        assert analyst.title().startswith("Ask AI")
    finally:
        analyst.close()


def test_another_sites_sign_out_form_does_not_sign_out(
    page: Page, portal: str, other_site: str
) -> None:
    _sign_in(page, portal, "ann")
    with page.expect_response(f"{portal}/auth/logout") as posted:
        page.goto(other_site)
    assert posted.value.status == 403
    page.goto(f"{portal}/sessions")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    cookie = {c["name"]: c["value"] for c in page.context.cookies(portal)}["exos_session"]
    answer = httpx.get(f"{portal}/api/stats", cookies={"exos_session": cookie})
    assert answer.status_code == 200
