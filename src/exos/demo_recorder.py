"""Records which demo sessions were fully sent, without ever blocking the event loop.

The demo loader reports each acknowledged session through a plain callback on the event
loop. A store call there would stop every server of `exos up` while it waits (behind the
writer's inserts, or forever behind a stream that needs the loop to move). So the
callback only queues the session; a task writes the queue to `exos_demo_sessions` from a
worker thread, everything that queued up in one insert.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from exos_common.store import Store

COLUMNS = ("session_id", "seed", "scale", "anchor")


class SessionRecorder:
    def __init__(self, store: Store, seed: int, scale: float, anchor: datetime) -> None:
        self._store = store
        self._row_tail = (seed, scale, anchor)
        self._queued: list[str] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._write_queued())
        self.recorded = 0

    def sent(self, _summary: object, plan: Any) -> None:
        """The loader's callback: `plan`'s session was fully acknowledged."""
        self._queued.append(str(plan.session_id))
        self._wake.set()

    async def close(self) -> None:
        """Write what is still queued, then stop."""
        self._closing = True
        self._wake.set()
        await self._task

    async def _write_queued(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._queued:
                batch, self._queued = self._queued, []
                await asyncio.to_thread(self._insert, batch)
            if self._closing and not self._queued:
                return

    def _insert(self, session_ids: list[str]) -> None:
        rows = [[session_id, *self._row_tail] for session_id in session_ids]
        self._store.insert("exos_demo_sessions", rows, COLUMNS)
        self.recorded += len(rows)
