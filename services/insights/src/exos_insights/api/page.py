"""`GET /ask`: the Ask AI page (plain HTML, CSS and an ES module; no framework, no build
step), its assets under `/ask/assets/`, and Chart.js from npm under
`/ask/assets/vendor/chart.js`. Behind the gateway the page also picks up the portal's
shell (navigation) if the gateway serves it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from exos_common.service.errors import error_response
from exos_insights.settings import InsightsSettings

WEB_DIR = (Path(__file__).resolve().parent.parent / "web").resolve()
ASSETS = {"ask.js": "text/javascript", "ask.css": "text/css", "chart.js": "text/javascript"}
VENDOR = {"chart.js": "chart.js/dist/chart.umd.min.js"}


def build_router(settings: InsightsSettings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    node_modules = settings.insights_web_dir / "node_modules"

    @router.get("/ask", response_class=HTMLResponse)
    async def ask_page() -> HTMLResponse:
        return HTMLResponse((WEB_DIR / "ask.html").read_text())

    @router.get("/ask/assets/{name}")
    async def asset(name: str) -> Response:
        if name not in ASSETS or name == "chart.js":
            return error_response(404, "not_found", f"no asset {name}")
        return FileResponse(WEB_DIR / name, media_type=ASSETS[name])

    @router.get("/ask/assets/vendor/{name}")
    async def vendor(name: str) -> Response:
        path = node_modules / VENDOR[name] if name in VENDOR else None
        if path is None or not path.is_file():
            return error_response(
                404, "not_found", f"{name} is not installed: run scripts/setup.sh (npm ci)"
            )
        return FileResponse(path, media_type="text/javascript")

    return router
