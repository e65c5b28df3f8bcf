"""The portal's pages and assets. Pages are static HTML + ES modules (no framework, no
build step) under `portal/`; third-party browser libraries come from npm
(`services/gateway/web`, installed by the setup command) and are served under
`/assets/vendor/`."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from exos_gateway.settings import GatewaySettings

PORTAL_DIR = Path(__file__).parent / "portal"

# path -> page file
PAGES = {"/": "home.html"}


def pages_router(
    settings: GatewaySettings, *, banner: str | None, auth_enforced: bool
) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def page(name: str) -> HTMLResponse:
        return HTMLResponse((PORTAL_DIR / name).read_text())

    for path, name in PAGES.items():
        router.add_api_route(path, lambda name=name: page(name), response_class=HTMLResponse)
    return router
