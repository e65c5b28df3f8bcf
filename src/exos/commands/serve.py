"""`exos serve SERVICE`: one service of the platform in its own process (distributed mode).

Every service package exposes `create_app()` in `exos_<service>.app`: a FastAPI app that
builds its settings from `EXOS_*` variables and starts its clients (Kafka, ClickHouse)
and consumer loops in its lifespan.
"""

from __future__ import annotations

import contextlib
import importlib
from enum import StrEnum
from typing import Annotated, Any

import typer

from exos_common.logs import configure_logging
from exos_common.service.runner import run_app
from exos_common.service.trust import refuse_anonymous_distributed
from exos_common.settings import RuntimeSettings, ServeSettings, ServiceTrustSettings


class Service(StrEnum):
    ingest = "ingest"
    enrich = "enrich"
    writer = "writer"
    query_api = "query-api"
    replay = "replay"
    insights = "insights"
    gateway = "gateway"


# They answer only the gateway: alone on a port, they need its credential.
READ_SERVICES = frozenset({Service.query_api, Service.replay, Service.insights})


def load_app(service: Service) -> Any:
    module = importlib.import_module(f"exos_{service.value.replace('-', '_')}.app")
    return module.create_app()


def serve(
    service: Annotated[
        Service,
        typer.Argument(
            help="Which service to run (default: EXOS_SERVICE, set by the image).",
            envvar="EXOS_SERVICE",
            show_envvar=True,
        ),
    ],
    port: Annotated[
        int | None,
        typer.Option(help="Listen port (default: EXOS_<SERVICE>_PORT, e.g. ingest 4318)."),
    ] = None,
) -> None:
    """Run one service until SIGTERM/Ctrl-C (graceful: stop, flush, commit, close)."""
    configure_logging(RuntimeSettings(), service=service.value)
    settings = ServeSettings()
    listen_port = settings.port_of(service.value) if port is None else port
    if service in READ_SERVICES:
        refuse_anonymous_distributed(service.value, ServiceTrustSettings())
    app = load_app(service)
    with contextlib.suppress(KeyboardInterrupt):
        run_app(
            app,
            settings.http_host,
            listen_port,
            on_ready=lambda url: typer.echo(f"{service.value} listening on {url}", err=True),
        )
