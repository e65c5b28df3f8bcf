"""The API's docs page (`/api/docs`): Swagger UI served from the `swagger-ui-bundle`
package, so the page loads no script from another site and keeps to the gateway's
Content-Security-Policy (its start-up script is a file, not inline)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path

from exos_common.service.errors import error_response

SWAGGER_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
}

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>API · EXOS Analytics</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/swagger/swagger-ui.css">
</head><body>
<div id="swagger-ui"></div>
<script src="/assets/swagger/swagger-ui-bundle.js"></script>
<script src="/assets/swagger-init.js"></script>
</body></html>"""


def api_docs_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/api/docs", response_class=HTMLResponse)
    async def docs() -> str:
        return DOCS_PAGE

    @router.get("/assets/swagger/{name}")
    async def swagger_asset(name: str) -> Response:
        kind = SWAGGER_FILES.get(name)
        if kind is None:
            return error_response(404, "not_found", f"no asset {name!r}")
        return FileResponse(
            Path(str(swagger_ui_path)) / name,
            media_type=kind,
            headers={"cache-control": "public, max-age=86400"},
        )

    return router
