"""Run the embedded ClickHouse server with uvicorn until SIGTERM/SIGINT.

Shutdown order (uvicorn + the app lifespan): stop accepting, let in-flight requests finish,
then close the chDB engine so it flushes and releases the folder lock.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from exos_common.chserver.app import create_app
from exos_common.logs import configure_logging
from exos_common.service.runner import run_app
from exos_common.settings import RuntimeSettings

GRACEFUL_SHUTDOWN_S = 30.0


def serve(
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8123,
    *,
    on_ready: Callable[[str], None] | None = None,
    log_level: str = "INFO",
    log_format: str = "json",
) -> None:
    """Serve `data_dir` on host:port (0 picks a free port; `on_ready` gets the real URL).
    Blocks until SIGTERM or SIGINT, then shuts down gracefully."""
    configure_logging(
        RuntimeSettings(log_level=log_level, log_format=log_format), service="clickhouse"
    )
    app = create_app(data_dir, drain_timeout_s=GRACEFUL_SHUTDOWN_S)
    # keep-alive as ClickHouse: pooled clients reuse idle connections.
    run_app(app, host, port, on_ready=on_ready, grace_s=GRACEFUL_SHUTDOWN_S, keep_alive_s=30)
