"""The demo's session bookkeeping never blocks the event loop: the loader's callback only
queues, a worker thread inserts; nothing queued is lost on close or cancellation."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest

from exos.demo_bookkeeping import DEMO_BOOKKEEPING
from exos.demo_recorder import SessionRecorder
from exos_common.store import Store, StoreError
from exos_common.testing import dates

ANCHOR = dates.DEMO_ANCHOR


def plan(session_id: str) -> SimpleNamespace:
    return SimpleNamespace(session_id=session_id)


def recorded(store: Store) -> list[tuple[object, ...]]:
    return store.query_rows(
        "SELECT session_id, seed, scale, anchor FROM exos_demo_sessions FINAL ORDER BY session_id"
    )


class SlowStore:
    """The real store, with each insert held for a while: the loop must not notice."""

    def __init__(self, store: Store, seconds: float) -> None:
        self.store = store
        self.seconds = seconds
        self.insert_threads: list[int] = []
        self.batches: list[int] = []

    def insert(self, table: str, rows: list[list[object]], columns: object) -> int:
        self.insert_threads.append(threading.get_ident())
        self.batches.append(len(rows))
        time.sleep(self.seconds)
        return self.store.insert(table, rows, columns)  # type: ignore[arg-type]


async def test_sessions_are_recorded_off_the_loop_in_batches(migrated_store: Store) -> None:
    migrated_store.command(DEMO_BOOKKEEPING)
    slow = SlowStore(migrated_store, 0.5)
    recorder = SessionRecorder(slow, 7, 0.25, ANCHOR)  # type: ignore[arg-type]
    began = time.perf_counter()
    for i in range(5):
        recorder.sent(None, plan(f"s{i}"))
        await asyncio.sleep(0)  # the loader awaits between sessions
    assert time.perf_counter() - began < 0.2  # five callbacks, no insert waited for
    await recorder.close()
    naive = ANCHOR.replace(tzinfo=None)  # the store answers UTC without a zone
    assert recorded(migrated_store) == [(f"s{i}", 7, 0.25, naive) for i in range(5)]
    assert threading.get_ident() not in slow.insert_threads
    assert sum(slow.batches) == 5 and len(slow.batches) < 5  # queued ones went together
    assert recorder.recorded == 5


async def test_what_was_queued_when_the_load_is_cancelled_is_still_recorded(
    migrated_store: Store,
) -> None:
    migrated_store.command(DEMO_BOOKKEEPING)
    recorder = SessionRecorder(migrated_store, 7, 1.0, ANCHOR)

    async def load() -> None:
        try:
            recorder.sent(None, plan("a"))
            recorder.sent(None, plan("b"))
            await asyncio.sleep(60)  # the load goes on until cancelled
        finally:
            await asyncio.shield(recorder.close())

    task = asyncio.create_task(load())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [row[0] for row in recorded(migrated_store)] == ["a", "b"]


async def test_a_failing_insert_surfaces_on_close(migrated_store: Store) -> None:
    # No bookkeeping table: the insert fails, and close() says so.
    recorder = SessionRecorder(migrated_store, 7, 1.0, ANCHOR)
    recorder.sent(None, plan("a"))
    with pytest.raises(StoreError) as raised:
        await recorder.close()
    assert raised.value.code == 60  # UNKNOWN_TABLE
