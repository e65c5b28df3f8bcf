"""Bounded off-loop work: a fixed number of requests in flight, their CPU work on a
small thread pool of ingest's own.

A request takes a slot before its body is read and keeps it until its records are
published, so at most `slots` bodies (and their decoded forms) are in memory however
many senders flood in. A request that gets no slot within `wait_s` is answered 429
with `Retry-After` (OTLP senders retry those) instead of queuing without bound. The
pool is ingest's own so a flood cannot starve other users of asyncio's default
executor in the all-in-one process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from exos_ingest.errors import IngestError

T = TypeVar("T")


class DecodeSlots:
    def __init__(self, slots: int, workers: int, wait_s: float, retry_after_s: int) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="ingest-decode")
        self._wait_s = wait_s
        self._retry_after_s = retry_after_s

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if not await self._acquire():
            raise IngestError(
                429,
                "busy",
                "ingest is at its limit of concurrent requests; retry after the delay given",
                retry_after_s=self._retry_after_s,
            )
        try:
            yield
        finally:
            self._slots.release()

    async def _acquire(self) -> bool:
        # Not `wait_for(acquire())`: on Python 3.11 a timeout racing the wake-up can
        # cancel an acquire that already succeeded and leak the slot for good.
        waiter = asyncio.ensure_future(self._slots.acquire())
        try:
            done, _ = await asyncio.wait({waiter}, timeout=self._wait_s)
        except BaseException:
            await self._abandon(waiter)
            raise
        if done:
            return True
        await self._abandon(waiter)
        return False

    async def _abandon(self, waiter: asyncio.Future[Any]) -> None:
        waiter.cancel()
        try:
            await asyncio.shield(waiter)
        except asyncio.CancelledError:
            return
        self._slots.release()  # it acquired after all, just before the cancel

    async def run(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
