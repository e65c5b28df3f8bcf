"""Run the embedded ClickHouse server with uvicorn until SIGTERM/SIGINT.

Shutdown order (uvicorn + the app lifespan): stop accepting, let in-flight requests finish,
then close the chDB engine so it flushes and releases the folder lock.
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import structlog
import uvicorn

from exos_common.chserver.app import create_app

GRACEFUL_SHUTDOWN_S = 30.0


class _Server(uvicorn.Server):
    """Tells the caller the URL once the socket listens (uvicorn starts the lifespan, i.e.
    the engine, before it binds, so this is the moment clients can connect)."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[str], None] | None) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._on_ready is not None:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            self._on_ready(f"http://{_url_host(host)}:{port}")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


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
    configure_logging(log_level, log_format)
    app = create_app(data_dir, drain_timeout_s=GRACEFUL_SHUTDOWN_S)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # our handler below renders uvicorn's records as JSON too
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(GRACEFUL_SHUTDOWN_S),
        server_header=False,
        timeout_keep_alive=30,  # as ClickHouse: pooled clients reuse idle connections
    )
    _Server(config, on_ready).run()


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """structlog lines on stderr; stdlib records (uvicorn) go through the same renderer."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
