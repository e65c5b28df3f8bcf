"""The portal app: what the gateway port serves. For now the home page (what is loaded,
where to send data), the read APIs of the services in this process, and one OpenAPI
document covering every route of every service in the process. The gateway issue turns
this into the full portal."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from prometheus_client import CollectorRegistry

from exos_common.service.errors import install_error_handlers
from exos_common.service.health import health_router
from exos_common.store import Store

TABLES = ("otel_traces", "otel_logs", "hyperdx_sessions")


def table_counts(store: Store) -> dict[str, int]:
    return {t: int(store.query_rows(f"SELECT count() FROM {t}")[0][0]) for t in TABLES}


# The services' read APIs, the replay service's player page and its assets, and the
# insights service's Ask AI page (`/ask`, `/ask/assets/...`).
MOUNTED = ("/api/", "/replay/", "/ask")


def _paths(route: Any) -> list[str]:
    """The paths a route answers. FastAPI (0.165) keeps an included router as one
    route holding the original router, whose routes carry the prefix already."""
    included = getattr(route, "original_router", None)
    if included is not None:
        return [p for r in included.routes for p in _paths(r)] or [""]
    return [getattr(route, "path", "")]


def create_portal(store: Store, *, services: Sequence[FastAPI], mode: str) -> FastAPI:
    app = FastAPI(title="EXOS Analytics", version="0.1.0")
    install_error_handlers(app)
    for service in services:
        for route in service.router.routes:
            if all(p.startswith(MOUNTED) for p in _paths(route)):
                app.router.routes.append(route)

    async def store_answers() -> bool:
        return await asyncio.to_thread(store.ping)

    app.include_router(health_router(CollectorRegistry(), {"clickhouse": store_answers}))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home() -> str:
        counts = await asyncio.to_thread(table_counts, store)
        rows = "".join(f"<tr><td>{t}</td><td>{n:,}</td></tr>" for t, n in counts.items())
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>EXOS Analytics</title>"
            "</head><body><h1>EXOS Analytics</h1>"
            f"<p><strong>{mode} mode: open on this machine, no login.</strong></p>"
            f"<table><tr><th>table</th><th>rows</th></tr>{rows}</table>"
            "<p><a href='/docs'>API docs</a></p></body></html>"
        )

    def merged_openapi() -> dict[str, Any]:
        """One document for every route of every service in the process."""
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            for service in services:
                other = service.openapi()
                schema["paths"].update(other.get("paths", {}))
                schemas = other.get("components", {}).get("schemas", {})
                schema.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = merged_openapi  # type: ignore[method-assign]
    return app
