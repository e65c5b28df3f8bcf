"""The gateway: serves the portal and routes `/api/*` to the read services."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from exos_common.service.errors import install_error_handlers
from exos_common.service.health import health_router
from exos_gateway.settings import GatewaySettings


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    app = FastAPI(title="EXOS gateway", version="0.1.0")
    install_error_handlers(app)
    app.include_router(health_router(CollectorRegistry(), {}))
    return app
