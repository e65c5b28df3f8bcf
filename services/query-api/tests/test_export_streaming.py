"""Streamed downloads release their database stream however the response ends: sent in
full, the client gone, the producer failing or the request cancelled; the producer is
never advanced or closed on the event loop."""

from __future__ import annotations

import threading
from collections.abc import Generator, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from exos_common.store import Store
from exos_query_api.app import create_app
from exos_query_api.streaming import ClosingStreamingResponse, pulled_in_threads


class Producer:
    """A blocking chunk generator that notes which threads ran it and whether it was
    closed; `hold` (if given) makes the third chunk wait for it."""

    def __init__(self, chunks: int, hold: threading.Event | None = None) -> None:
        self.chunks = chunks
        self.hold = hold
        self.threads: set[int] = set()
        self.closed_on: int | None = None
        self.made = 0
        self.holding = threading.Event()

    def run(self) -> Generator[bytes, None, None]:
        try:
            for i in range(self.chunks):
                self.threads.add(threading.get_ident())
                if i == 2 and self.hold is not None:
                    self.holding.set()
                    self.hold.wait(5)
                self.made += 1
                yield f"chunk{i};".encode()
        finally:
            self.closed_on = threading.get_ident()


async def test_every_chunk_is_made_and_the_producer_closed_off_the_loop() -> None:
    producer = Producer(3)
    got = [chunk async for chunk in pulled_in_threads(producer.run())]
    assert got == [b"chunk0;", b"chunk1;", b"chunk2;"]
    loop_thread = threading.get_ident()
    assert loop_thread not in producer.threads
    assert producer.closed_on is not None and producer.closed_on != loop_thread


async def test_a_reader_that_stops_early_closes_the_producer() -> None:
    producer = Producer(100)
    chunks = pulled_in_threads(producer.run())
    assert await chunks.__anext__() == b"chunk0;"
    await chunks.aclose()  # type: ignore[attr-defined]
    assert producer.made == 1
    assert producer.closed_on not in (None, threading.get_ident())


async def test_a_cancelled_download_still_closes_the_producer() -> None:
    hold = threading.Event()
    producer = Producer(100, hold)
    received: list[bytes] = []
    two_received = anyio.Event()

    async def download() -> None:
        async for chunk in pulled_in_threads(producer.run()):
            received.append(chunk)
            if len(received) == 2:
                two_received.set()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(download)
        await two_received.wait()
        await anyio.to_thread.run_sync(producer.holding.wait, 5)
        tasks.cancel_scope.cancel()  # while the third chunk is being made
        hold.set()
    # The chunk under way was finished (a worker thread is not interrupted); no more.
    assert received[:2] == [b"chunk0;", b"chunk1;"] and len(received) <= 3
    assert producer.made == 3
    assert producer.closed_on not in (None, threading.get_ident())


def http_scope(path: str, query: str = "") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }


class GoneAfterFirstBody:
    """ASGI send/receive of a client that disconnects after the first body chunk."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.status = 0
        self.gone = anyio.Event()

    async def receive(self) -> MutableMapping[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body" and message.get("body"):
            if self.bodies:
                self.gone.set()
                raise OSError("connection reset by peer")
            self.bodies.append(message["body"])


async def test_a_client_gone_midway_closes_the_producer() -> None:
    producer = Producer(1000)
    client = GoneAfterFirstBody()
    response = ClosingStreamingResponse(producer.run(), media_type="text/plain")
    with pytest.raises(OSError):
        await response(http_scope("/"), client.receive, client.send)
    assert client.bodies == [b"chunk0;"]
    assert producer.made < 1000
    assert producer.closed_on not in (None, threading.get_ident())


def fill_process_events(store: Store, orders: int, events_per_order: int) -> None:
    """Enough events that the OCEL file is several chunks long."""
    store.command(
        "INSERT INTO process_events (Timestamp, OrderId, Activity, SpanId, VendorId,"
        " OperatorId, SessionId)"
        " SELECT now64(9) - toIntervalSecond(number), concat('O-', toString(number % {o:UInt32})),"
        " 'order.created', hex(number), 'V-1', 'op-a', 's-1'"
        " FROM numbers({n:UInt32})",
        {"o": orders, "n": orders * events_per_order},
    )


async def test_an_abandoned_ocel_export_gives_its_stream_back(migrated_store: Store) -> None:
    await anyio.to_thread.run_sync(fill_process_events, migrated_store, 500, 40)
    app = create_app(store=migrated_store)
    now = datetime.now(UTC)
    query = (
        f"from={(now - timedelta(days=1)).isoformat()}&to={(now + timedelta(hours=1)).isoformat()}"
    )
    query = query.replace("+", "%2B")
    client = GoneAfterFirstBody()
    with pytest.raises(OSError):
        await app(http_scope("/api/ocpm/export/ocel", query), client.receive, client.send)
    assert client.status == 200
    assert client.bodies[0].startswith(b'{"objectTypes":')
    handles = migrated_store._handles
    assert handles is not None
    assert handles.lent == 0  # the events stream was closed, its handle returned
    # No query of the export still runs, and no client of the store is held by it.
    running = "SELECT count() FROM system.processes WHERE query LIKE '%FROM process_events%'"
    for client_call in (
        lambda: migrated_store.query_rows(running),
        lambda: [tuple(r) for r in migrated_store.client.query(running).result_rows],
    ):
        with anyio.fail_after(10):
            rows = await anyio.to_thread.run_sync(client_call, abandon_on_cancel=True)
        assert rows == [(1,)]  # this very query
