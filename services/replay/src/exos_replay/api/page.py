"""The player page `/replay/{session_id}` and its assets under `/replay/assets/`: the
page's own files (package data) and rrweb's Replayer build from npm (installed by
scripts/setup.sh into `EXOS_REPLAY_ASSETS_DIR/node_modules`, never copied into git)."""

import html
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response

from exos_common.service.readstore import StoreProvider
from exos_common.store import Store
from exos_replay.api.sessions import SessionIdPath
from exos_replay.queries import summary
from exos_replay.settings import ReplaySettings

STATIC = resources.files("exos_replay") / "static"
JS = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Asset:
    path: Path
    media_type: str


def asset_table(settings: ReplaySettings) -> dict[str, Asset]:
    """Every file the page may load, by name: nothing else is served from disk."""
    rrweb = settings.replay_assets_dir / "node_modules" / "rrweb" / "dist"
    own = Path(str(STATIC))
    return {
        "player.js": Asset(own / "player.js", JS),
        "heatbar.js": Asset(own / "heatbar.js", JS),
        "player.css": Asset(own / "player.css", CSS),
        "rrweb.js": Asset(rrweb / "rrweb.umd.min.cjs", JS),
        "rrweb.js.map": Asset(rrweb / "rrweb.umd.min.cjs.map", "application/json"),
        "rrweb.css": Asset(rrweb / "style.min.css", CSS),
    }


def not_found_page(session_id: str) -> str:
    name = html.escape(session_id)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Session not found · EXOS</title>"
        "<link rel='stylesheet' href='/replay/assets/player.css'></head>"
        "<body class='not-found' data-state='not-found'><main><h1>Session not found</h1>"
        f"<p id='message'>No session <code>{name}</code>: nothing was recorded under "
        "this id (or it is past retention).</p><p><a href='/'>Back to EXOS</a></p>"
        "</main></body></html>"
    )


def build_router(provider: StoreProvider, settings: ReplaySettings) -> APIRouter:
    router = APIRouter(tags=["player"])
    assets = asset_table(settings)
    template = (STATIC / "player.html").read_text()
    StoreDep = Annotated[Store, Depends(provider.get)]

    @router.get("/replay/assets/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        found = assets.get(name)
        if found is None:
            raise HTTPException(404, f"no asset {name!r}")
        if not found.path.is_file():
            raise HTTPException(
                503,
                f"{found.path} is missing: run scripts/setup.sh (npm ci in services/replay/web)"
                " or point EXOS_REPLAY_ASSETS_DIR at a folder with node_modules/rrweb",
            )
        return FileResponse(
            found.path,
            media_type=found.media_type,
            headers={"cache-control": "public, max-age=300"},
        )

    @router.get("/replay/{session_id}", response_class=HTMLResponse, include_in_schema=False)
    def player_page(store: StoreDep, session_id: SessionIdPath) -> HTMLResponse:
        if summary.session_window(store, session_id) is None:
            return HTMLResponse(not_found_page(session_id), status_code=404)
        page = template.replace("{{session_id}}", html.escape(session_id, quote=True))
        page = page.replace("{{session_path}}", html.escape(quote(session_id, safe=""), quote=True))
        return HTMLResponse(page, headers={"cache-control": "no-store"})

    return router
