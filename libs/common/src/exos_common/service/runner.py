"""Run an ASGI app with uvicorn until SIGTERM/SIGINT, the same way for every service.

Shutdown order (uvicorn + the app's lifespan): stop accepting, let in-flight requests
finish within the grace period, then run the lifespan's cleanup (flush, commit, close).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import uvicorn

DEFAULT_GRACE_S = 30.0


class _Server(uvicorn.Server):
    """Tells the caller the URL once the socket listens (uvicorn runs the lifespan
    startup before it binds, so this is the moment clients can connect)."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[str], None] | None) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._on_ready is not None:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            self._on_ready(f"http://{url_host(host)}:{port}")


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def run_app(
    app: Any,
    host: str,
    port: int,
    *,
    on_ready: Callable[[str], None] | None = None,
    grace_s: float = DEFAULT_GRACE_S,
    keep_alive_s: int = 30,
) -> None:
    """Serve `app` on host:port (0 picks a free port; `on_ready` gets the real URL).
    Blocks until SIGTERM or SIGINT, then shuts down gracefully. Logging is the caller's
    (see `exos_common.logs`): uvicorn's own log config is turned off."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(grace_s),
        server_header=False,
        timeout_keep_alive=keep_alive_s,
    )
    _Server(config, on_ready).run()
