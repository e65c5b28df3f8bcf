"""The gateway: the portal, and `/api/*` routed to query-api, replay and insights.

Distributed mode (`exos serve gateway`): requests are forwarded to the services' URLs.
All-in-one (`exos up`): the services' apps live in the same process and their routes are
mounted here directly (`services=`), so one port serves everything without a hop.
Either way one `/openapi.json` documents every routed path, and auth is checked here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry

from exos_common.service.errors import error_response, install_error_handlers
from exos_common.service.health import health_router
from exos_gateway.access import AccessMiddleware
from exos_gateway.api_docs import api_docs_router
from exos_gateway.auth import create_authenticator, create_provider
from exos_gateway.headers import SameOriginMiddleware, SecurityHeadersMiddleware
from exos_gateway.login import login_router
from exos_gateway.openapi import UpstreamDocuments, merge
from exos_gateway.pages import pages_router
from exos_gateway.proxy import Upstream, forward, match, upstream_client
from exos_gateway.routes import upstream_routes
from exos_gateway.sessions import SessionStore
from exos_gateway.settings import GatewaySettings
from exos_gateway.sso import PortalSignOn

PROXIED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def create_app(
    settings: GatewaySettings | None = None,
    *,
    services: Sequence[FastAPI] | None = None,
    banner: str | None = None,
    sessions: SessionStore | None = None,
) -> FastAPI:
    """`services`: mount these apps' routed paths instead of forwarding (all-in-one).
    `banner`: a line every page shows (e.g. that the portal runs without login).
    `sessions`: the portal's session store (tests pass one with their own clock)."""
    settings = settings or GatewaySettings()
    if services is None and settings.environment == "production" and not settings.service_secret:
        # Without it every forwarded request would be refused by the read services.
        raise ValueError(
            "EXOS_ENVIRONMENT=production needs EXOS_SERVICE_SECRET on the gateway (the same "
            "value as on query-api, replay and insights)"
        )
    if sessions is None:
        secret = settings.gateway_session_secret
        sessions = SessionStore(secret.get_secret_value() if secret else None)
    routes = upstream_routes(settings)
    secret = settings.service_secret
    client = upstream_client(
        settings.gateway_upstream_timeout_s, secret.get_secret_value() if secret else None
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()

    app = FastAPI(
        title="EXOS Analytics",
        version="0.1.0",
        description="The portal's API: process mining, product analytics, site health, "
        "session replay and Ask AI.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    provider = create_provider(settings)
    authenticator = create_authenticator(settings, provider)
    sign_on = (
        PortalSignOn(provider, settings, sessions)
        if provider is not None and settings.gateway_oidc_client_id
        else None
    )
    # Added last runs first: headers on every answer, then the origin check, then auth.
    app.add_middleware(
        AccessMiddleware,
        authenticator=authenticator,
        sessions=sessions,
        sign_on=sign_on,
        secure_cookie=settings.gateway_cookie_secure,
    )
    app.add_middleware(SameOriginMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
    app.include_router(health_router(CollectorRegistry(), _readiness(client, routes, services)))
    app.include_router(login_router(authenticator, sessions, settings, sign_on))
    app.include_router(api_docs_router())
    app.include_router(pages_router(settings, banner=banner))

    if services is not None:
        _mount(app, services, routes)
        documents = [service.openapi() for service in services]

        async def other_documents() -> list[Mapping[str, Any]]:
            return list(documents)

    else:
        _forward_all(app, client, routes)
        other_documents = UpstreamDocuments(client, routes.values()).get

    async def openapi_json() -> dict[str, Any]:
        own = FastAPI.openapi(app)
        return merge(own, await other_documents(), routes)

    # Replaces FastAPI's own (synchronous, own-routes-only) document route.
    app.router.routes[:] = [
        r for r in app.router.routes if getattr(r, "path", "") != "/openapi.json"
    ]
    app.add_api_route("/openapi.json", openapi_json, include_in_schema=False)
    return app


def _paths(route: Any) -> list[str]:
    """The paths a route answers. FastAPI (0.165) keeps an included router as one route
    holding the original router, whose routes carry the prefix already."""
    included = getattr(route, "original_router", None)
    if included is not None:
        return [p for r in included.routes for p in _paths(r)] or [""]
    return [getattr(route, "path", "")]


def _mount(app: FastAPI, services: Sequence[FastAPI], routes: Mapping[str, Upstream]) -> None:
    for service in services:
        for route in service.router.routes:
            if all(match(routes, path) is not None for path in _paths(route)):
                app.router.routes.append(route)


def _forward_all(app: FastAPI, client: httpx.AsyncClient, routes: Mapping[str, Upstream]) -> None:
    async def forward_routed(request: Request) -> Response:
        upstream = match(routes, request.url.path)
        if upstream is None:
            return error_response(404, "not_found", f"no route for {request.url.path}")
        return await forward(client, upstream, request)

    for prefix in routes:
        for path in (prefix, prefix + "/{rest:path}"):
            app.add_api_route(
                path, forward_routed, methods=PROXIED_METHODS, include_in_schema=False
            )


def _readiness(
    client: httpx.AsyncClient,
    routes: Mapping[str, Upstream],
    services: Sequence[FastAPI] | None,
) -> dict[str, Any]:
    if services is not None:
        return {}
    checks: dict[str, Any] = {}
    # Ready when the read services answer; enrich only serves `/api/visitor`.
    core = {u.name: u for u in routes.values() if u.name != "enrich"}
    for upstream in core.values():

        async def answers(base: str = upstream.base_url) -> bool:
            return (await client.get(f"{base.rstrip('/')}/healthz")).status_code == 200

        checks[upstream.name] = answers
    return checks
