"""A pool of chDB clients, one per concurrent caller.

clickhouse-connect's chDB backend serialises every call on a client behind one lock, and
an open result stream keeps that lock until it is closed. chDB itself runs statements on
different connection handles of one engine in parallel (an insert on one handle does not
wait for a long read or an open stream on another). So each caller borrows a client of
its own: writes never queue behind reads, and a stream stalled by its consumer blocks
nobody but itself. Opening a client costs ~20 ms, so idle ones are kept for reuse.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from clickhouse_connect.driver.client import Client

KEEP_IDLE = 8  # concurrent callers seen in `exos up`: writer, readers, demo, health


class PoolClosed(RuntimeError):
    """The store was closed: no more calls."""


class HandlePool:
    def __init__(self, open_client: Callable[[], Client], keep_idle: int = KEEP_IDLE) -> None:
        self._open_client = open_client
        self._keep_idle = keep_idle
        self._idle: list[Client] = []
        self._lent = 0
        self._closed = False
        self._lock = threading.Lock()

    @property
    def lent(self) -> int:
        """Clients borrowed right now."""
        return self._lent

    @property
    def idle(self) -> int:
        return len(self._idle)

    @contextmanager
    def borrow(self) -> Iterator[Client]:
        """A client no other caller uses until this block exits."""
        with self._lock:
            if self._closed:
                raise PoolClosed("the store is closed")
            client = self._idle.pop() if self._idle else None
            self._lent += 1
        try:
            if client is None:
                client = self._open_client()
            yield client
        finally:
            self._give_back(client)

    def _give_back(self, client: Client | None) -> None:
        with self._lock:
            self._lent -= 1
            if client is None:
                return
            if not self._closed and len(self._idle) < self._keep_idle:
                self._idle.append(client)
                return
        client.close()

    def close(self) -> None:
        """Close the idle clients now; borrowed ones close when they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for client in idle:
            client.close()
