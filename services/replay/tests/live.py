"""Real servers for the browser tests, in one background thread with its own event
loop: the replay app (and, for recording, ingest -> enrich -> writer on the in-process
bus, wired as the all-in-one process wires them) on free localhost ports, and a static
server for the page the real HyperDX SDK records (tests/e2e/browser)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from exos_common.bus.memory import InProcessBus
from exos_common.store import Store
from exos_common.topics import pipeline_topic_specs
from exos_replay.app import create_app as create_replay
from exos_replay.settings import ReplaySettings

E2E_BROWSER = Path(__file__).resolve().parents[3] / "tests" / "e2e" / "browser"


def _server(app: Any) -> uvicorn.Server:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False)
    return uvicorn.Server(config)


def _port(server: uvicorn.Server) -> int:
    return int(server.servers[0].sockets[0].getsockname()[1])


@dataclass
class Servers:
    replay: str = ""
    ingest: str = ""
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _error: BaseException | None = None


async def _run(
    store: Store, with_pipeline: bool, servers: Servers, settings: ReplaySettings | None
) -> None:
    servers._loop = asyncio.get_running_loop()
    servers._stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        apps: list[tuple[str, Any]] = [("replay", create_replay(settings, store=store))]
        if with_pipeline:
            apps.append(("ingest", await _pipeline(store, stack)))
        running = [(name, _server(app)) for name, app in apps]
        tasks = [asyncio.create_task(server.serve()) for _, server in running]
        while not all(server.started for _, server in running):
            if any(t.done() for t in tasks):
                await asyncio.gather(*tasks)
            await asyncio.sleep(0.02)
        for name, server in running:
            setattr(servers, name, f"http://127.0.0.1:{_port(server)}")
        servers._ready.set()
        await servers._stop.wait()
        for _, server in running:
            server.should_exit = True
        await asyncio.gather(*tasks)


async def _pipeline(store: Store, stack: AsyncExitStack) -> FastAPI:
    from exos_enrich.app import create_app as create_enrich
    from exos_enrich.settings import EnrichSettings
    from exos_ingest.app import create_app as create_ingest
    from exos_ingest.settings import IngestSettings
    from exos_writer.app import create_app as create_writer
    from exos_writer.settings import WriterSettings

    bus = InProcessBus()
    await bus.ensure_topics(pipeline_topic_specs(2, 1, 8 * 1024 * 1024))
    writer = create_writer(WriterSettings(writer_batch_age_s=0.1), bus=bus, store=store)
    enrich = create_enrich(EnrichSettings(enrich_signal_settle_s=1.0), bus=bus)
    for app in (writer, enrich):
        await stack.enter_async_context(app.router.lifespan_context(app))
    return create_ingest(IngestSettings(), bus=bus)


@contextmanager
def live_servers(
    store: Store, *, with_pipeline: bool = False, settings: ReplaySettings | None = None
) -> Iterator[Servers]:
    servers = Servers()

    def main() -> None:
        try:
            asyncio.run(_run(store, with_pipeline, servers, settings))
        except BaseException as exc:  # surfaced to the test below
            servers._error = exc
            servers._ready.set()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    servers._ready.wait(60)
    if servers._error is not None:
        raise RuntimeError("servers did not start") from servers._error
    try:
        yield servers
    finally:
        if servers._loop is not None and servers._stop is not None:
            servers._loop.call_soon_threadsafe(servers._stop.set)
        thread.join(30)


class _PageHandler(SimpleHTTPRequestHandler):
    """The recorded app: the e2e page and SDK bundle; `POST /api/orders` is its API."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(201)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"id": 1042}')

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def page_server() -> Iterator[str]:
    handler = partial(_PageHandler, directory=str(E2E_BROWSER))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
