"""`exos clickhouse serve`: the embedded ClickHouse server alone, so separate processes
(services in distributed mode, Grafana, clickhouse-client over HTTP) share one chDB folder."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from exos_common.settings import ClickHouseServerSettings, RuntimeSettings

app = typer.Typer(
    help="The embedded ClickHouse server: ClickHouse's HTTP interface over a chDB folder.",
    no_args_is_help=True,
)

_DEFAULTS = ClickHouseServerSettings()


@app.command()
def serve(
    data: Annotated[
        Path,
        typer.Option(
            "--data", help="chDB data folder the server owns (EXOS_CLICKHOUSE_SERVER_DATA)."
        ),
    ] = _DEFAULTS.clickhouse_server_data,
    host: Annotated[
        str, typer.Option(help="Listen address (EXOS_CLICKHOUSE_SERVER_HOST).")
    ] = _DEFAULTS.clickhouse_server_host,
    port: Annotated[
        int, typer.Option(help="HTTP port; 0 picks a free one (EXOS_CLICKHOUSE_SERVER_PORT).")
    ] = _DEFAULTS.clickhouse_server_port,
    password_file: Annotated[
        Path | None,
        typer.Option(
            help="File with the password of the `default` user; created (0600) with a random "
            "password when missing. Default: <data>/password "
            "(EXOS_CLICKHOUSE_SERVER_PASSWORD_FILE)."
        ),
    ] = None,
) -> None:
    """Serve the folder until SIGTERM or Ctrl-C; prints the URL once clients can connect."""
    from exos_common.chserver import serve as serve_engine  # the chDB engine: only here

    runtime = RuntimeSettings()
    # uvicorn re-raises the SIGINT it handled once the graceful shutdown finished.
    with contextlib.suppress(KeyboardInterrupt):
        serve_engine(
            data,
            host,
            port,
            password_file=password_file,
            # stdout carries only the URL so scripts can capture it; logs go to stderr.
            on_ready=lambda url: typer.echo(url),
            log_level=runtime.log_level,
            log_format=runtime.log_format,
        )
