"""Run the embedded ClickHouse server with uvicorn until SIGTERM/SIGINT.

Shutdown order (uvicorn + the app lifespan): stop accepting, let in-flight requests finish,
then close the chDB engine so it flushes and releases the folder lock.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from exos_common.chserver import request_guard
from exos_common.chserver.app import Access, create_app
from exos_common.chserver.credentials import (
    DEFAULT_USER,
    Credentials,
    default_password_file,
    load_or_create_password,
)
from exos_common.logs import configure_logging
from exos_common.service.runner import run_app
from exos_common.settings import ClickHouseServerSettings, RuntimeSettings, split_list

GRACEFUL_SHUTDOWN_S = 30.0


def server_access(
    data_dir: Path, host: str, settings: ClickHouseServerSettings, password_file: Path | None
) -> tuple[Access, Path]:
    """Who may use the server on `host` and where its password is (created if missing)."""
    path = password_file or settings.clickhouse_server_password_file
    path = path or default_password_file(data_dir)
    credentials = Credentials(DEFAULT_USER, load_or_create_password(path))
    access = Access(
        credentials,
        hosts=request_guard.allowed_host_names(
            host, split_list(settings.clickhouse_server_allowed_hosts)
        ),
        origins=request_guard.allowed_origins(
            split_list(settings.clickhouse_server_allowed_origins)
        ),
    )
    return access, path


def serve(
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8123,
    *,
    password_file: Path | None = None,
    on_ready: Callable[[str], None] | None = None,
    log_level: str = "INFO",
    log_format: str = "json",
) -> None:
    """Serve `data_dir` on host:port (0 picks a free port; `on_ready` gets the real URL).
    Blocks until SIGTERM or SIGINT, then shuts down gracefully."""
    configure_logging(
        RuntimeSettings(log_level=log_level, log_format=log_format), service="clickhouse"
    )
    access, _ = server_access(data_dir, host, ClickHouseServerSettings(), password_file)
    app = create_app(data_dir, access, drain_timeout_s=GRACEFUL_SHUTDOWN_S)
    # keep-alive as ClickHouse: pooled clients reuse idle connections.
    run_app(app, host, port, on_ready=on_ready, grace_s=GRACEFUL_SHUTDOWN_S, keep_alive_s=30)
