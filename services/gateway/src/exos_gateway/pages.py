"""The portal's pages and assets. Pages are static HTML fragments + ES modules (no
framework, no build step) under `portal/`, wrapped in one layout here (styles, the
banner, the shell's script, the portal's own telemetry when enabled); third-party
browser libraries come from npm (`services/gateway/web`, installed by the setup command)
and are served under `/assets/vendor/`. The Docs page renders the repository's markdown
(`guide.py`)."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from exos_common.service.errors import error_response
from exos_gateway.guide import Guide
from exos_gateway.roles import required_role
from exos_gateway.settings import GatewaySettings

PORTAL_DIR = (Path(__file__).parent / "portal").resolve()


@dataclass(frozen=True, slots=True)
class Page:
    title: str
    fragment: str  # file under portal/ with the page's <main> content
    module: str | None  # ES module under portal/ that fills it in
    imports: tuple[str, ...] = ()  # the modules it imports, fetched with the page's


# path -> page; `/ask` (Ask AI) and `/replay/{id}` (the player) are the insights' and
# replay's own pages, linked from the shell.
PAGES = {
    "/": Page("Home", "home.html", "home.js"),
    "/process-mining": Page(
        "Process Mining",
        "process-mining.html",
        "process-mining.js",
        ("lifecycle.js", "process-map.js", "ocpm.js"),
    ),
    "/sessions": Page("Sessions", "sessions.html", "sessions.js"),
    "/analytics": Page("Product Analytics", "analytics.html", "analytics.js"),
    "/site-health": Page("Site Health", "site-health.html", "site-health.js"),
}

# Browser libraries, by the name they are served under /assets/vendor/ -> file in
# node_modules. Only these files are served from there.
VENDOR = {
    "chart.js": "chart.js/dist/chart.umd.min.js",
    "hyperdx.js": "@hyperdx/browser/build/index.js",
}

SHELL_MODULES = (
    "portal.js",
    "dom.js",
    "render.js",
    "shortcuts.js",
    "suggest.js",
    "format.js",
    "generic.js",
)

# Portal assets by suffix; anything else under portal/ (the HTML fragments) is not served.
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def csrf_token(request: Request) -> str | None:
    """The sign-out form's CSRF token: that of the request's portal session, if any."""
    session = getattr(request.state, "session", None)
    return session.csrf_token if session is not None else None


def may_ask(request: Request) -> bool:
    """Whether the request's principal may use Ask AI (the shell hides it otherwise)."""
    principal = getattr(request.state, "principal", None)
    role = principal.role if principal is not None else None
    return role is not None and role >= required_role("GET", "/ask")


def shell_config(
    settings: GatewaySettings, *, banner: str | None, csrf: str | None, ask_ai: bool = True
) -> dict[str, Any]:
    """What the shell (portal.js) needs: inlined in the portal's pages, and served at
    `/portal/config.json` to the services' own pages (Ask AI) that load the shell.
    `csrf`: the session's token that the sign-out form must carry (no session: no
    sign-out button). `ask_ai`: whether to show Ask AI in the navigation."""
    return {
        "banner": banner,
        "signOut": csrf is not None,
        "csrf": csrf,
        "askAi": ask_ai,
        "ingestUrl": settings.gateway_instrument_url,
        "instrument": (
            {
                "url": settings.gateway_instrument_url,
                "apiKey": settings.gateway_instrument_api_key,
                "service": "exos-portal",
            }
            if settings.gateway_instrument
            else None
        ),
    }


def layout(
    title: str,
    main: str,
    *,
    module: str | None,
    banner: str | None,
    csrf: str | None,
    settings: GatewaySettings,
    imports: tuple[str, ...] = (),
    ask_ai: bool = True,
) -> str:
    """The whole document around a page's main content. The shell (portal.js) draws the
    navigation, time range and filters into `#shell` from the config below."""
    config_json = json.dumps(shell_config(settings, banner=banner, csrf=csrf, ask_ai=ask_ai))
    # `</` cannot end the JSON's script element early.
    config_json = config_json.replace("</", "<\\/")
    instrument = (
        '<script src="/assets/vendor/hyperdx.js"></script>\n'
        '<script src="/assets/instrument.js"></script>\n'
        if settings.gateway_instrument
        else ""
    )
    banner_html = (
        f'<div class="banner" role="note" id="banner">{html.escape(banner)}</div>' if banner else ""
    )
    script = f'<script type="module" src="/assets/{module}"></script>' if module else ""
    # The shell's modules fetched at once rather than import by import.
    preload = "".join(
        f'<link rel="modulepreload" href="/assets/{name}">\n' for name in (*SHELL_MODULES, *imports)
    )
    # Chart.js only where there are charts (the Docs pages have none).
    charts = (
        '<script src="/assets/vendor/chart.js" defer></script>\n' if module != "guide.js" else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{html.escape(title)} · EXOS Analytics</title>
<link rel="stylesheet" href="/assets/shell.css">
<link rel="stylesheet" href="/assets/portal.css">
<script type="application/json" id="exos-config">{config_json}</script>
{instrument}{charts}{preload}<script type="module" src="/assets/portal.js"></script>
{script}
</head>
<body>
{banner_html}
<header id="shell"></header>
<main id="main">
{main}
</main>
</body></html>"""


def pages_router(settings: GatewaySettings, *, banner: str | None) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    guide = Guide(settings.gateway_docs_dir)
    node_modules = settings.gateway_web_dir / "node_modules"

    def render(
        request: Request,
        title: str,
        main: str,
        module: str | None,
        imports: tuple[str, ...] = (),
    ) -> HTMLResponse:
        return HTMLResponse(
            layout(
                title,
                main,
                module=module,
                banner=banner,
                csrf=csrf_token(request),
                ask_ai=may_ask(request),
                settings=settings,
                imports=imports,
            )
        )

    def page_route(page: Page) -> Callable[[Request], HTMLResponse]:
        # Only the request: FastAPI would read other parameters from the query (`?page=`
        # is a filter).
        def serve(request: Request) -> HTMLResponse:
            fragment = (PORTAL_DIR / page.fragment).read_text()
            return render(request, page.title, fragment, page.module, page.imports)

        return serve

    for path, page in PAGES.items():
        router.add_api_route(path, page_route(page), response_class=HTMLResponse)

    @router.get("/portal/config.json")
    async def config(request: Request) -> dict[str, Any]:
        return shell_config(
            settings, banner=banner, csrf=csrf_token(request), ask_ai=may_ask(request)
        )

    @router.get("/guide", response_class=HTMLResponse)
    async def guide_index(request: Request) -> HTMLResponse:
        return render(request, "Docs", guide.index_html(), "guide.js")

    @router.get("/guide/{slug}", response_class=HTMLResponse)
    async def guide_document(request: Request, slug: str) -> Response:
        document = guide.document_html(slug)
        if document is None:
            return error_response(404, "not_found", f"no document named {slug!r}")
        title, body = document
        return render(request, title, body, "guide.js")

    @router.get("/docs")
    async def docs_moved() -> RedirectResponse:
        # `/docs` was the API's Swagger UI before the portal; the documents live at /guide.
        return RedirectResponse("/guide", status_code=308)

    @router.get("/assets/vendor/{name}")
    async def vendor(name: str) -> Response:
        relative = VENDOR.get(name)
        if relative is None or not (node_modules / relative).is_file():
            return error_response(
                404,
                "not_found",
                f"no vendor asset {name!r} (run scripts/setup.sh to install the portal's "
                f"npm packages into {node_modules})",
            )
        return FileResponse(
            node_modules / relative,
            media_type="text/javascript",
            headers={"cache-control": "public, max-age=3600"},
        )

    @router.get("/assets/{name:path}")
    async def asset(name: str) -> Response:
        target = (PORTAL_DIR / name).resolve()
        kind = ASSET_TYPES.get(target.suffix)
        if kind is None or not target.is_relative_to(PORTAL_DIR) or not target.is_file():
            return error_response(404, "not_found", f"no asset {name!r}")
        return FileResponse(target, media_type=kind, headers={"cache-control": "no-cache"})

    return router
