"""`exos up`: the whole platform in one process (the all-in-one mode, the default)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from exos_common.logs import configure_logging
from exos_common.settings import ClickHouseServerSettings, RuntimeSettings, ServeSettings

_SERVE = ServeSettings()
_CLICKHOUSE = ClickHouseServerSettings()


def up(
    demo: Annotated[bool, typer.Option("--demo", help="Load the demo data set.")] = False,
    data: Annotated[
        Path, typer.Option("--data", help="Data folder (EXOS_DATA_DIR).")
    ] = _SERVE.data_dir,
    port: Annotated[
        int, typer.Option(help="Portal and /api (EXOS_GATEWAY_PORT).")
    ] = _SERVE.gateway_port,
    otlp_port: Annotated[
        int, typer.Option(help="OTLP/HTTP ingest (EXOS_INGEST_PORT).")
    ] = _SERVE.ingest_port,
    clickhouse_port: Annotated[
        int,
        typer.Option(
            help="ClickHouse HTTP interface of the database (EXOS_CLICKHOUSE_SERVER_PORT)."
        ),
    ] = _CLICKHOUSE.clickhouse_server_port,
) -> None:
    """Run the whole platform in one process until Ctrl-C; the data folder keeps the data."""
    # Imported here: every service and the embedded engine load only for `exos up`, not
    # for each `exos serve` process that shares this CLI (~200 MB and seconds each).
    from exos.allinone import Endpoints, Platform, UpOptions, run_platform

    # Three servers share this process and the banner below names their addresses, so
    # uvicorn's own start-up lines (three of each) are left out.
    configure_logging(RuntimeSettings(), service="exos-up", server_banner=False)
    options = UpOptions(
        data_dir=data,
        host=_SERVE.http_host,
        port=port,
        otlp_port=otlp_port,
        clickhouse_port=clickhouse_port,
    )

    async def ready(platform: Platform, endpoints: Endpoints) -> None:
        credentials = platform.clickhouse_access.credentials
        typer.echo(
            f"EXOS is up (all-in-one, open on this machine)\n"
            f"  portal + API    {endpoints.portal}\n"
            f"  OTLP/HTTP       {endpoints.otlp}\n"
            f"  ClickHouse HTTP {endpoints.clickhouse}  user {credentials.user}, "
            f"password {credentials.password}\n"
            f"                  (kept in {platform.clickhouse_password_file}; e.g. "
            f"curl -u {credentials.user}:PASSWORD '{endpoints.clickhouse}/?query=SELECT+1')\n"
            f"  data            {data.resolve()}",
            err=True,
        )
        if demo:
            from exos.demo_bootstrap import load_demo_once

            await load_demo_once(platform, endpoints)

    asyncio.run(run_platform(options, ready))
