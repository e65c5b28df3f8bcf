"""Group commit: writes wait in a queue; one task writes them in a worker thread (the
event loop never blocks on disk) and acknowledges them once durable.

With `grouped`, every write waiting when the previous flush ends goes into the next
flush and shares its fsync, so concurrent publishers pay one fsync together; without
it, each write gets its own flush.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Prepared = TypeVar("Prepared")


@dataclass
class _Waiting(Generic[Item]):
    item: Item
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommit(Generic[Item, Prepared]):
    def __init__(
        self,
        prepare: Callable[[list[Item]], Prepared],
        write: Callable[[Prepared], None],
        apply: Callable[[list[Item]], None],
        *,
        grouped: bool,
    ) -> None:
        """`prepare` (event loop) turns queued items into one write, `write` (worker
        thread) makes it durable, `apply` (event loop) makes the items visible."""
        self._prepare = prepare
        self._write = write
        self._apply = apply
        self._grouped = grouped
        self._queue: list[_Waiting[Item]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.failure: BaseException | None = None
        self.flushes = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bus-group-commit")

    async def submit(self, item: Item) -> None:
        if self.failure is not None:
            raise self.failure
        waiting = _Waiting(item)
        self._queue.append(waiting)
        self._wake.set()
        await waiting.done

    async def stop(self) -> None:
        """Flush what is queued (a flush under way finishes), then stop."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                take = len(self._queue) if self._grouped else 1
                batch, self._queue = self._queue[:take], self._queue[take:]
                await self._flush(batch)
            if self._stopping:
                return

    async def _flush(self, batch: list[_Waiting[Item]]) -> None:
        items = [waiting.item for waiting in batch]
        try:
            prepared = self._prepare(items)
            await asyncio.to_thread(self._write, prepared)
        except Exception as exc:  # the folder is in an unknown state: refuse from now on
            self.failure = exc
            for waiting in [*batch, *self._queue]:
                if not waiting.done.done():
                    waiting.done.set_exception(exc)
            self._queue = []
            return
        self.flushes += 1
        self._apply(items)
        for waiting in batch:
            if not waiting.done.done():
                waiting.done.set_result(None)
