"""`exos up`: the whole platform in one process, on an in-process bus and an embedded
ClickHouse (chDB) under one data folder.

The services are the same apps `exos serve` runs, built with a shared in-process bus and
store: ingest answers OTLP on its port, enrich and the writer run their consumer loops,
the ClickHouse HTTP interface of the embedded database is served for Grafana, HyperDX or
clickhouse-client, and the gateway port carries the portal, `/api` and `/openapi.json`.

Stopping (Ctrl-C, SIGTERM) is ordered so nothing acknowledged is lost: the HTTP servers
stop first (no new data), enrich then the writer drain the bus until caught up, then
everything closes. The data folder keeps the database and the bus's log for the next
start, so even a killed process resumes with every record ingest acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware

from exos.demo_bookkeeping import DEMO_BOOKKEEPING
from exos_common.bus.memory import InProcessBus
from exos_common.chserver.app import create_app as create_clickhouse_http
from exos_common.chserver.server import server_access
from exos_common.logs import get_logger
from exos_common.schema import migrate
from exos_common.settings import ClickHouseServerSettings, InProcessBusSettings, StoreSettings
from exos_common.store import Store, open_store
from exos_common.topics import pipeline_topic_specs
from exos_enrich.app import create_app as create_enrich
from exos_enrich.settings import EnrichSettings
from exos_gateway.app import create_app as create_gateway
from exos_gateway.settings import GatewaySettings
from exos_ingest.app import create_app as create_ingest
from exos_ingest.settings import IngestSettings
from exos_insights.app import create_app as create_insights
from exos_query_api.app import create_app as create_query_api
from exos_replay.app import create_app as create_replay
from exos_writer.app import create_app as create_writer
from exos_writer.settings import WriterSettings

log = get_logger("exos.up")

# The in-process bus has no other replicas to share with: a few partitions keep
# sessions apart without many idle queues.
PARTITIONS = 4
DRAIN_TIMEOUT_S = 60.0


OPEN_BANNER = (
    "All-in-one mode: open to anyone who can reach this port, no login "
    "(set EXOS_GATEWAY_AUTH=tokens and EXOS_GATEWAY_TOKENS to require one)."
)


def durable_bus(directory: Path) -> InProcessBus:
    """The bus of `exos up`: its log under the data folder, so what ingest acknowledged
    survives a killed process, bounded so a stalled pipeline turns ingest away."""
    settings = InProcessBusSettings()
    return InProcessBus(
        directory=directory,
        fsync=settings.bus_fsync,
        max_pending_bytes=settings.bus_max_pending_bytes,
        segment_bytes=settings.bus_segment_bytes,
    )


LOCAL_HOST_NAMES = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


def portal_host_names(bind: str, extra: list[str]) -> list[str]:
    """The Host names the portal answers: a page of another site that points its own
    name at this machine (DNS rebinding) sends its own Host and is refused."""
    names = list(LOCAL_HOST_NAMES)
    if bind not in WILDCARD_BINDS:
        names.append(f"[{bind}]" if ":" in bind and not bind.startswith("[") else bind)
    return list(dict.fromkeys([*names, *(name.lower() for name in extra)]))


def all_in_one_gateway_settings(otlp_url: str | None = None) -> GatewaySettings:
    """The portal of `exos up` runs open on localhost unless auth is configured; plain
    HTTP, so its session cookie cannot be Secure-only. Its ingest URL (shown on the home
    page, used by its own telemetry) is this process's OTLP port."""
    defaults: dict[str, object] = {}
    if "EXOS_GATEWAY_AUTH" not in os.environ:
        defaults["gateway_auth"] = "none"
    if "EXOS_GATEWAY_COOKIE_SECURE" not in os.environ:
        defaults["gateway_cookie_secure"] = False
    if otlp_url and "EXOS_GATEWAY_INSTRUMENT_URL" not in os.environ:
        defaults["gateway_instrument_url"] = otlp_url
    return GatewaySettings(**defaults)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class UpOptions:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    otlp_port: int = 4318
    clickhouse_port: int = 8123


@dataclass(frozen=True, slots=True)
class Endpoints:
    portal: str
    otlp: str
    clickhouse: str


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the platform, which stops all servers
    together and in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _server(app: Any, host: str, port: int) -> _Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
    )
    return _Server(config)


def _bound_port(server: _Server) -> int:
    return int(server.servers[0].sockets[0].getsockname()[1])


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with app.router.lifespan_context(app):
        yield


class Platform:
    """The running all-in-one platform: `start`, then `wait` until stopped."""

    def __init__(self, options: UpOptions) -> None:
        self.options = options
        self.database = options.data_dir / "clickhouse"
        self._stack = AsyncExitStack()
        self._servers: list[_Server] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.store: Store | None = None
        self.bus: InProcessBus | None = None
        self.endpoints: Endpoints | None = None
        # The ClickHouse port's password: <data>/clickhouse/password, made on first start.
        # In-process clients use the engine directly and need none.
        self.clickhouse_access, self.clickhouse_password_file = server_access(
            self.database, "127.0.0.1", ClickHouseServerSettings(), None
        )

    def _open_store(self) -> Store:
        store_settings = StoreSettings(clickhouse_url=f"chdb://{self.database.resolve()}")
        store = open_store(store_settings, create_database=True)
        report = migrate(store, store_settings, store_settings.clickhouse_dedup_window)
        log.info("schema_ready", applied=report.applied, data_dir=str(self.options.data_dir))
        # The demo's bookkeeping table exists from the start, so clients can query it.
        store.command(DEMO_BOOKKEEPING)
        return store

    async def start(self) -> Endpoints:
        # Store calls block: they run in worker threads, never on the event loop.
        self.store = await asyncio.to_thread(self._open_store)
        self.bus = durable_bus(self.options.data_dir / "bus")
        bus = self.bus
        await bus.start()  # reads back what an earlier run left uncommitted
        await bus.ensure_topics(pipeline_topic_specs(PARTITIONS, 1, 8 * 1024 * 1024))

        writer = create_writer(WriterSettings(), bus=bus, store=self.store)
        enrich = create_enrich(EnrichSettings(), bus=bus)
        # Entered writer first, so on exit enrich drains and stops before the writer.
        await self._stack.enter_async_context(_lifespan(writer))
        await self._stack.enter_async_context(_lifespan(enrich))
        self._drains = [enrich.state.loop.wait_caught_up, writer.state.loop.wait_caught_up]

        # The read services share the process's store; their lifespans run here because
        # the gateway mounts their routes, not their apps.
        readers = [
            create_query_api(store=self.store),
            create_replay(store=self.store),
            create_insights(store=self.store),
        ]
        for reader in readers:
            await self._stack.enter_async_context(_lifespan(reader))
        ingest = create_ingest(IngestSettings(), bus=bus)
        listening = self.options.host
        shown_host = "127.0.0.1" if listening in ("0.0.0.0", "::", "") else listening
        gateway_settings = all_in_one_gateway_settings(
            f"http://{shown_host}:{self.options.otlp_port}" if self.options.otlp_port else None
        )
        portal = create_gateway(
            gateway_settings,
            services=[enrich, *readers],
            banner=OPEN_BANNER if gateway_settings.gateway_auth == "none" else None,
        )
        portal.add_middleware(
            TrustedHostMiddleware,
            allowed_hosts=portal_host_names(listening, gateway_settings.extra_allowed_hosts),
            www_redirect=False,
        )
        host = self.options.host
        self._servers = [
            _server(portal, host, self.options.port),
            _server(ingest, host, self.options.otlp_port),
            _server(
                create_clickhouse_http(self.database, self.clickhouse_access),
                "127.0.0.1",
                self.options.clickhouse_port,
            ),
        ]
        self._tasks = [asyncio.create_task(s.serve()) for s in self._servers]
        while not all(s.started for s in self._servers):
            if any(t.done() for t in self._tasks):
                await asyncio.gather(*self._tasks)  # surfaces why a server did not start
                raise RuntimeError("a server of the platform stopped while starting")
            await asyncio.sleep(0.05)
        portal_port, otlp_port, ch_port = (_bound_port(s) for s in self._servers)
        self.endpoints = Endpoints(
            portal=f"http://{host}:{portal_port}",
            otlp=f"http://{host}:{otlp_port}",
            clickhouse=f"http://127.0.0.1:{ch_port}",
        )
        return self.endpoints

    def request_stop(self) -> None:
        for server in self._servers:
            server.should_exit = True

    async def wait(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Drain the pipeline (enrich, then writer), then stop everything."""
        for drain in self._drains:
            if not await drain(DRAIN_TIMEOUT_S):
                log.warning("drain_timed_out")
        await self._stack.aclose()
        if self.bus is not None:
            await self.bus.stop()
        if self.store is not None:
            await asyncio.to_thread(self.store.close)


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("startup_task_failed", exc_info=task.exception())


async def run_platform(
    options: UpOptions,
    on_ready: Callable[[Platform, Endpoints], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Start, run until SIGINT/SIGTERM, stop in order. `on_ready` runs once everything
    answers (the demo load); a stop request cancels it."""
    platform = Platform(options)
    loop = asyncio.get_running_loop()
    ready_task: asyncio.Task[None] | None = None

    def stop() -> None:
        # The demo load first (its requests would fail against stopped servers).
        if ready_task is not None and not ready_task.done():
            ready_task.cancel()
        platform.request_stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        endpoints = await platform.start()
        if on_ready is not None:
            ready_task = asyncio.create_task(on_ready(platform, endpoints))
            ready_task.add_done_callback(_report_failure)
        await platform.wait()
        if ready_task is not None:
            ready_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ready_task
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await platform.close()
