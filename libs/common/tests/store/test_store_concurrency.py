"""Writes never wait for reads: a long query, an open result stream or a stream its
reader abandoned holds nothing another caller needs. Run on chDB (one handle per caller)
and over HTTP (fixtures in conftest.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from exos_common.settings import StoreSettings
from exos_common.store import Store, StoreError, StoreUnavailable, open_store
from exos_common.store.handles import HandlePool

TABLE = "CREATE TABLE marks (n UInt64) ENGINE = MergeTree ORDER BY n"
# 6 rows of 0.5 s each, one row per block: a 3 s read that yields as it goes.
SLOW_READ = "SELECT sleepEachRow(0.5), number FROM numbers(6) SETTINGS max_block_size = 1"
BIG_STREAM = "SELECT number FROM numbers(5000000)"


def in_thread(work: Callable[[], Any]) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def timed_insert(store: Store, n: int) -> float:
    began = time.perf_counter()
    assert store.insert("marks", [[n]], ["n"]) == 1
    return time.perf_counter() - began


def test_an_insert_does_not_wait_for_a_long_read(store: Store) -> None:
    store.command(TABLE)
    # The first insert of a process imports pandas (~2 s): not what is measured here.
    store.insert("marks", [[0]], ["n"])
    reader = in_thread(lambda: store.query(SLOW_READ))
    time.sleep(0.5)  # the read is under way
    assert timed_insert(store, 1) < 1.0  # not the 2.5 s the read still needs
    assert reader.is_alive()
    reader.join(10)
    assert store.query_rows("SELECT n FROM marks ORDER BY n") == [(0,), (1,)]


def test_an_open_stream_nobody_reads_blocks_no_other_call(store: Store) -> None:
    store.command(TABLE)
    with store.row_blocks(BIG_STREAM) as blocks:
        first = next(iter(blocks))
        assert first[0][0] == 0
        # The stream is open and stalled here; the same thread and others carry on.
        assert timed_insert(store, 7) < 1.0
        done = threading.Event()
        in_thread(lambda: (store.query_rows("SELECT count() FROM marks"), done.set()))
        assert done.wait(5)
    assert store.query_rows("SELECT n FROM marks") == [(7,)]


def test_a_stream_read_to_the_end_gives_every_row_in_order(store: Store) -> None:
    with store.row_blocks("SELECT number FROM numbers(100000)") as blocks:
        rows = [row[0] for block in blocks for row in block]
    assert rows == list(range(100000))


def abandoned_after_first_block(store: Store) -> None:
    def rows() -> Any:
        with store.row_blocks(BIG_STREAM) as blocks:
            for block in blocks:
                yield from block

    generator = rows()
    assert next(generator) == (0,)
    generator.close()  # the reader walks away


def test_an_abandoned_stream_releases_its_handle(store: Store) -> None:
    store.command(TABLE)
    for _ in range(12):  # more than the pool keeps: each one came back or was closed
        abandoned_after_first_block(store)
    if store._handles is not None:
        assert store._handles.lent == 0
        assert store._handles.idle <= 8
    assert timed_insert(store, 3) < 1.0


def test_a_stream_that_fails_midway_raises_and_releases_its_handle(store: Store) -> None:
    failing = (
        "SELECT throwIf(number = 200000, 'boom') FROM numbers(400000) "
        "SETTINGS max_block_size = 1000"
    )
    with pytest.raises(StoreError) as raised, store.row_blocks(failing) as blocks:
        for _ in blocks:
            pass
    assert "boom" in str(raised.value)
    if store._handles is not None:
        assert store._handles.lent == 0
    assert store.query_rows("SELECT 1") == [(1,)]


def test_a_failed_statement_keeps_the_store_usable(store: Store) -> None:
    with pytest.raises(StoreError) as raised:
        store.query("SELECT * FROM no_such_table")
    assert raised.value.code == 60
    assert store.query_rows("SELECT 2") == [(2,)]


def test_a_closed_chdb_store_refuses_calls_as_unavailable(chdb_path: Path) -> None:
    store = open_store(StoreSettings(clickhouse_url=f"chdb://{chdb_path}"))
    assert store.query_rows("SELECT 1") == [(1,)]
    store.close()
    with pytest.raises(StoreUnavailable):
        store.query_rows("SELECT 1")


class Opened:
    """A client factory that counts what it opened and closed."""

    def __init__(self, fail_first: int = 0) -> None:
        self.opened = 0
        self.closed = 0
        self.fail_first = fail_first

    def __call__(self) -> Any:
        if self.fail_first:
            self.fail_first -= 1
            raise ConnectionError("engine refused")
        self.opened += 1
        factory = self

        class Client:
            def close(self) -> None:
                factory.closed += 1

        return Client()


def test_pool_reuses_idle_clients_and_keeps_only_a_few() -> None:
    opened = Opened()
    pool = HandlePool(opened, keep_idle=2)
    with pool.borrow() as a, pool.borrow() as b, pool.borrow() as c:
        assert len({id(a), id(b), id(c)}) == 3
        assert pool.lent == 3
    assert (opened.opened, opened.closed, pool.idle, pool.lent) == (3, 1, 2, 0)
    with pool.borrow():
        pass
    assert opened.opened == 3  # an idle one served


def test_pool_survives_a_client_that_cannot_be_opened() -> None:
    opened = Opened(fail_first=1)
    pool = HandlePool(opened)
    with pytest.raises(ConnectionError), pool.borrow():
        pass
    assert pool.lent == 0
    with pool.borrow():
        assert pool.lent == 1
    assert (opened.opened, pool.idle) == (1, 1)


def test_pool_closes_what_comes_back_after_close() -> None:
    opened = Opened()
    pool = HandlePool(opened)
    with pool.borrow():
        with pool.borrow():
            pass
        pool.close()
        assert opened.closed == 1  # the idle one, at once
    assert (opened.closed, pool.idle, pool.lent) == (2, 0, 0)  # the lent one, on return
