"""Payloads as enrich publishes them (several rows of one session per record) through
the whole writer on chDB: the batch is one raw insert of the concatenated payloads; a
refused row is found by splitting records, then the record's lines, and quarantined
alone with its topic/partition/offset/row; a writer killed mid-bisection stores each
row once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from test_hostile_data import (
    REFUSED_TIME,
    FlakyStore,
    WriterKilled,
    make_loop,
    quarantine_rows,
    run_until_caught_up,
    span,
    stored,
    wait_until,
)
from writer_testkit import sample

from exos_common.bus import OutgoingRecord
from exos_common.bus.memory import InProcessBus
from exos_common.store import Store
from exos_common.table_payload import encode_payload
from exos_common.topics import Topic, pipeline_topic_specs

SPANS = str(Topic.SPANS_ENRICHED)
ROWS_PER_RECORD = 5
RECORDS = 8
BAD_RECORD, BAD_ROW = 5, 3  # span 28 (record 5, row 3) is 2^63 ns


@pytest.fixture
async def bus() -> AsyncIterator[InProcessBus]:
    instance = InProcessBus()
    await instance.ensure_topics(pipeline_topic_specs(1, 1, 8 * 1024 * 1024))
    yield instance
    await instance.stop()


def session_payloads() -> tuple[list[OutgoingRecord], bytes]:
    """8 records of 5 spans (ids 0..39), one refused span; returns the records and the
    value of the one holding it."""
    out = []
    for r in range(RECORDS):
        spans = [span(r * ROWS_PER_RECORD + k) for k in range(ROWS_PER_RECORD)]
        if r == BAD_RECORD:
            spans[BAD_ROW].timestamp_ns = 2**63
        payload = encode_payload("otel_traces", spans)
        out.append(OutgoingRecord(SPANS, payload.body, f"s{r}".encode(), payload.headers()))
    return out, out[BAD_RECORD].value


def good_span_ids() -> list[str]:
    bad = BAD_RECORD * ROWS_PER_RECORD + BAD_ROW
    return [f"{i:016x}" for i in range(RECORDS * ROWS_PER_RECORD) if i != bad]


def span_ids(store: Store) -> list[str]:
    return [r[0] for r in store.query_rows("SELECT SpanId FROM otel_traces ORDER BY SpanId")]


async def test_a_concatenated_batch_loses_only_the_refused_row(
    bus: InProcessBus, store: Store
) -> None:
    records, bad_value = session_payloads()
    await bus.publish_many(records)
    loop, registry = make_loop(bus, store)
    await run_until_caught_up(loop)

    assert span_ids(store) == good_span_ids()
    assert quarantine_rows(store) == [
        ("otel_traces", SPANS, 0, BAD_RECORD, BAD_ROW, "data", REFUSED_TIME, bad_value.decode())
    ]
    # Each split is two sub-inserts. Records [0-7] refused: [0-3] ok, [4-7] refused:
    # [4-5] refused: [4] ok, [5] refused: its rows [0-1] ok, [2-4] refused: [2] ok,
    # [3-4] refused: [3] refused, [4] ok; then [6-7] ok. 6 splits, 12 sub-inserts.
    assert sample(registry, "exos_writer_bisection_inserts_total", table="otel_traces") == 12


async def test_a_writer_killed_mid_bisection_of_payload_lines_stores_each_row_once(
    bus: InProcessBus, store: Store
) -> None:
    records, bad_value = session_payloads()
    await bus.publish_many(records)
    # Inserts that succeed: [0-3], [4], then the bad record's rows [0-1]: die there.
    killed = FlakyStore(store, kill_after=3)
    first, _ = make_loop(bus, killed)
    await first.start()
    await wait_until(lambda: first.failure is not None)
    await first.stop()
    assert isinstance(first.failure, WriterKilled)
    assert stored(store, "otel_traces", "SpanId") == (27, 27)  # records 0-4, two rows of 5

    second, _ = make_loop(bus, store)
    await run_until_caught_up(second)
    assert span_ids(store) == good_span_ids()  # every id once: the replay was dropped
    assert quarantine_rows(store) == [
        ("otel_traces", SPANS, 0, BAD_RECORD, BAD_ROW, "data", REFUSED_TIME, bad_value.decode())
    ]
