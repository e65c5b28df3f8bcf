"""Each step on its own, with a fake commit, a fake clock and a fake table."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from writer_testkit import (
    DeadLetters,
    FakeClock,
    FakeCommits,
    FakeTable,
    Killed,
    bus_record,
    payload_of,
    sample,
)

from exos_common.bus import TopicPartition
from exos_common.messages import LogRecord, SpanRecord
from exos_common.store import StoreError
from exos_common.stream.bounds import BatchBounds
from exos_common.stream.loop import Decoded
from exos_common.table_payload import TablePayload
from exos_common.topics import Topic
from exos_writer.batch import BatchState, PartitionBatch
from exos_writer.metrics import WriterMetrics
from exos_writer.sinks import SINKS
from exos_writer.steps.accumulate import Accumulator
from exos_writer.steps.announce import Announcer
from exos_writer.steps.commit import Committer
from exos_writer.steps.insert import Inserter
from exos_writer.steps.quarantine import QUARANTINE_TABLE, Offender, Quarantine, RetryLater
from exos_writer.steps.restore import Restored, Restorer
from exos_writer.tokens import intent, settled
from exos_writer.watchdog import ProgressWatchdog

SPANS = str(Topic.SPANS_ENRICHED)
TP = TopicPartition(SPANS, 0)
TOKEN = f"otel_traces:inc1:{SPANS}:0"


def new_batch(incarnation: str = "inc1") -> PartitionBatch:
    return PartitionBatch(TP, SINKS[SPANS], incarnation)


def with_entries(rows_per_record: list[list[Any]], first_offset: int = 10) -> PartitionBatch:
    """A batch whose record at offset first_offset+i produced the rows whose first values
    are rows_per_record[i]."""
    batch = new_batch()
    for i, values in enumerate(rows_per_record):
        record = bus_record(SPANS, first_offset + i, value=f"raw{i}".encode())
        batch.add(record, payload_of(*values) if values else None)
    batch.state = BatchState.ANNOUNCED
    return batch


# --- accumulate --------------------------------------------------------------------


def decoded(offset: int, size: int = 10) -> Decoded:
    span = SpanRecord("s1", 1, f"{offset:032x}", f"{offset:016x}", "click", "portal")
    return Decoded(bus_record(SPANS, offset, value=b"x" * size), span)


async def test_accumulate_seals_on_rows_then_backlogs_new_records() -> None:
    clock, dead = FakeClock(), DeadLetters()
    accumulate = Accumulator(BatchBounds(3, 10**9, 60.0), dead.send, clock)
    batch = new_batch()
    for offset in range(5):
        await accumulate.add(batch, decoded(offset))
    assert batch.state is BatchState.DUE
    assert (batch.first, batch.last, batch.row_count) == (0, 2, 3)
    assert [d.record.offset for d in batch.backlog] == [3, 4]


async def test_accumulate_counts_the_rows_a_payload_carries_not_its_records() -> None:
    accumulate = Accumulator(BatchBounds(5, 10**9, 60.0), DeadLetters().send, FakeClock())
    batch = new_batch()
    await accumulate.add(batch, Decoded(bus_record(SPANS, 0), payload_of(1, 2, 3)))
    assert batch.state is BatchState.OPEN
    await accumulate.add(batch, Decoded(bus_record(SPANS, 1), payload_of(4, 5, 6)))
    assert (batch.state, batch.row_count, batch.row_counts) == (BatchState.DUE, 6, [3, 3])
    assert batch.body_of(0, 2) == b"[1]\n[2]\n[3]\n[4]\n[5]\n[6]\n"


async def test_accumulate_dead_letters_a_payload_of_another_table() -> None:
    dead = DeadLetters()
    accumulate = Accumulator(BatchBounds(100, 10**9, 60.0), dead.send, FakeClock())
    batch = new_batch()
    logs = TablePayload("otel_logs", 1, b"[1]\n")
    await accumulate.add(batch, Decoded(bus_record(SPANS, 4), logs))
    assert [(r.offset, str(e)) for r, e in dead.sent] == [
        (4, "a payload for otel_logs on the topic of otel_traces")
    ]
    assert (batch.first, batch.row_count, batch.bodies) == (4, 0, [b""])


async def test_accumulate_seals_on_age_measured_across_polls() -> None:
    clock = FakeClock()
    accumulate = Accumulator(BatchBounds(100, 10**9, 0.5), DeadLetters().send, clock)
    batch = new_batch()
    await accumulate.add(batch, decoded(0))
    clock.now += 0.4
    accumulate.seal_if_due(batch)
    assert batch.state is BatchState.OPEN
    clock.now += 0.1
    accumulate.seal_if_due(batch)
    assert batch.state is BatchState.DUE


async def test_accumulate_holds_a_pinned_range_until_it_is_whole() -> None:
    accumulate = Accumulator(BatchBounds(1, 10**9, 0.01), DeadLetters().send, FakeClock())
    batch = new_batch()
    batch.pin_last = 2
    await accumulate.add(batch, decoded(0))
    await accumulate.add(batch, decoded(1))
    accumulate.seal(batch)  # not even shutdown cuts a pinned range short
    assert batch.state is BatchState.OPEN
    await accumulate.add(batch, decoded(2))
    await accumulate.add(batch, decoded(3))
    assert (batch.state, batch.last, len(batch.backlog)) == (BatchState.DUE, 2, 1)


async def test_accumulate_dead_letters_a_message_of_the_wrong_type_keeping_its_offset() -> None:
    dead = DeadLetters()
    accumulate = Accumulator(BatchBounds(100, 10**9, 60.0), dead.send, FakeClock())
    batch = new_batch()
    wrong = Decoded(bus_record(SPANS, 7), LogRecord("s1", 1, "portal"))
    await accumulate.add(batch, wrong)
    assert [(r.offset, type(e).__name__) for r, e in dead.sent] == [(7, "TypeError")]
    assert (batch.first, batch.row_count) == (7, 0)


# --- announce / commit / restore -----------------------------------------------------


async def test_announce_commits_the_first_offset_with_the_range() -> None:
    commits = FakeCommits()
    batch = with_entries([[1], [2], [3]])
    batch.state = BatchState.DUE
    await Announcer(commits.commit).announce(batch)
    assert commits.calls == [({TP: 10}, {TP: intent("inc1", 10, 12)})]
    assert batch.state is BatchState.ANNOUNCED


async def test_announce_of_a_pinned_batch_commits_nothing() -> None:
    commits = FakeCommits()
    batch = with_entries([[1]])
    batch.state, batch.pin_last, batch.pin_incarnation = BatchState.DUE, 10, ""
    await Announcer(commits.commit).announce(batch)
    assert commits.calls == []
    assert batch.dedup_token == f"otel_traces:{SPANS}:0:10-10"


async def test_commit_goes_past_the_batch_and_carries_the_incarnation() -> None:
    commits = FakeCommits()
    await Committer(commits.commit).commit(with_entries([[1], [2]]))
    assert commits.calls == [({TP: 12}, {TP: settled("inc1")})]


async def test_restore_reads_incarnation_and_pins_an_announced_uncommitted_range() -> None:
    commits = FakeCommits()
    restorer = Restorer(commits.committed, commits.committed_metadata, lambda: "fresh")
    assert await restorer.restore(TP) == Restored("fresh", None, None)  # never committed

    await commits.commit({TP: 40}, {TP: settled("inc1")})
    assert await restorer.restore(TP) == Restored("inc1", None, 40)

    await commits.commit({TP: 40}, {TP: intent("inc1", 40, 49)})
    restored = await restorer.restore(TP)
    assert (restored.incarnation, restored.pinned) == ("inc1", (40, 49, "inc1"))

    # An intent from before incarnations: pinned under "", the partition goes on anew.
    await commits.commit({TP: 40}, {TP: "exos-batch:40-49"})
    restored = await restorer.restore(TP)
    assert (restored.incarnation, restored.pinned) == ("fresh", (40, 49, ""))

    # The commit moved past the intent's start: it was done, nothing to re-form.
    commits.offsets[TP] = 50
    assert (await restorer.restore(TP)).pinned is None


# --- insert: classify, retry, bisect, quarantine --------------------------------------


def make_inserter(
    table: FakeTable, dead: DeadLetters, unknown_retries: int = 5
) -> tuple[Inserter, CollectorRegistry]:
    registry = CollectorRegistry()
    metrics = WriterMetrics(registry)
    quarantine = Quarantine(table.insert, dead.send, metrics, timeout_s=5)
    inserter = Inserter(
        table.insert_raw, quarantine, metrics, timeout_s=5, unknown_error_retries=unknown_retries
    )
    return inserter, registry


def quarantined(table: FakeTable) -> list[tuple[int, int, str]]:
    """(offset, row_index, error_name) of each quarantine row."""
    return [(row[4], row[5], row[8]) for row in table.rows.get(QUARANTINE_TABLE, [])]


async def test_a_clean_batch_is_one_insert_with_the_batch_token() -> None:
    table, dead = FakeTable(), DeadLetters()
    inserter, _ = make_inserter(table, dead)
    batch = with_entries([[1], [2], [3], [4]])
    await inserter.insert(batch)
    assert table.attempts == [f"{TOKEN}:10-13"]
    assert [r[0] for r in table.rows["otel_traces"]] == [1, 2, 3, 4]


async def test_bisection_isolates_the_refused_record_and_stores_the_rest() -> None:
    table, dead = FakeTable(refused={"bad"}), DeadLetters()
    inserter, registry = make_inserter(table, dead)
    batch = with_entries([[1], [2], ["bad"], [4]])
    await inserter.insert(batch)
    t = f"{TOKEN}:10-13"
    # [10-13] refused -> [10-11] ok, [12-13] refused -> [12] refused alone (quarantined),
    # [13] ok.
    assert table.attempts == [
        t,
        f"{t}/10-11",
        f"{t}/12-13",
        f"{t}/12-12",
        f"quarantine:{t}/12#-1",
        f"{t}/13-13",
    ]
    assert sorted(r[0] for r in table.rows["otel_traces"]) == [1, 2, 4]
    assert quarantined(table) == [(12, -1, "CANNOT_ENCODE")]
    assert [(r.offset, str(e)[:35]) for r, e in dead.sent] == [
        (12, "otel_traces refused CANNOT_ENCODE: ")
    ]
    traces = {"table": "otel_traces"}
    assert sample(registry, "exos_writer_bisection_inserts_total", **traces) == 4
    quarantined_total = "exos_writer_quarantined_records_total"
    assert sample(registry, quarantined_total, **traces, reason="CANNOT_ENCODE") == 1
    errors = "exos_writer_insert_errors_total"
    assert sample(registry, errors, **traces, error_class="data") == 3


async def test_a_record_with_many_rows_loses_only_its_refused_rows() -> None:
    table, dead = FakeTable(refused={"bad"}), DeadLetters()
    inserter, _ = make_inserter(table, dead)
    batch = with_entries([[1], [2, 3, "bad", 5, "bad"], [6]])
    await inserter.insert(batch)
    assert sorted(r[0] for r in table.rows["otel_traces"]) == [1, 2, 3, 5, 6]
    assert quarantined(table) == [(11, 2, "CANNOT_ENCODE"), (11, 4, "CANNOT_ENCODE")]
    assert [str(e).split(":")[0] for _, e in dead.sent] == [
        "otel_traces refused row 2",
        "otel_traces refused row 4",
    ]
    raw = table.rows[QUARANTINE_TABLE][0][11]
    assert raw == "cmF3MQ=="  # base64 of the record's bytes, b"raw1"


async def test_an_outage_raises_retry_later_and_stores_nothing() -> None:
    table, dead = FakeTable(), DeadLetters()
    table.outages = 1
    inserter, registry = make_inserter(table, dead)
    with pytest.raises(RetryLater):
        await inserter.insert(with_entries([[1], [2]]))
    assert table.rows == {} and dead.sent == []
    errors = "exos_writer_insert_errors_total"
    assert sample(registry, errors, table="otel_traces", error_class="transient") == 1


async def test_an_outage_mid_bisection_retries_and_the_retry_stores_each_row_once() -> None:
    table, dead = FakeTable(refused={"bad"}), DeadLetters()
    batch = with_entries([[1], [2], ["bad"], [4]])
    original = table.insert
    calls = 0

    def down_on_third(*args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 3:
            table.outages = 1
        return original(*args, **kwargs)

    table.insert = down_on_third  # type: ignore[method-assign]
    inserter, _ = make_inserter(table, dead)
    with pytest.raises(RetryLater):
        await inserter.insert(batch)
    assert [r[0] for r in table.rows["otel_traces"]] == [1, 2]  # first half stored
    await inserter.insert(batch)
    assert sorted(r[0] for r in table.rows["otel_traces"]) == [1, 2, 4]
    assert quarantined(table) == [(12, -1, "CANNOT_ENCODE")]


async def test_unknown_errors_are_retried_then_taken_for_data() -> None:
    class Odd:
        def __init__(self) -> None:
            self.calls = 0

        def insert(self, table: str, *rows_or_payload: Any, dedup_token: str) -> int:
            self.calls += 1
            if table == QUARANTINE_TABLE:
                return 1
            raise StoreError(1001, "std::exception", "STD_EXCEPTION")

    odd, dead = Odd(), DeadLetters()
    registry = CollectorRegistry()
    metrics = WriterMetrics(registry)
    answers = False
    quarantine = Quarantine(odd.insert, dead.send, metrics, timeout_s=5)
    inserter = Inserter(
        odd.insert,
        quarantine,
        metrics,
        timeout_s=5,
        unknown_error_retries=2,
        store_answers=lambda: answers,
    )
    batch = with_entries([[1]])
    for _ in range(3):  # the third is past the retries, but ClickHouse does not answer
        with pytest.raises(RetryLater):
            await inserter.insert(batch)
    assert dead.sent == []
    answers = True
    await inserter.insert(batch)  # past the retries and ClickHouse answers: data
    assert [(r.offset, str(e)[:33]) for r, e in dead.sent] == [
        (10, "otel_traces refused STD_EXCEPTION")
    ]
    errors = "exos_writer_insert_errors_total"
    assert sample(registry, errors, table="otel_traces", error_class="unknown") == 4


async def test_quarantine_never_loops_on_its_own_refusal_but_retries_its_outage() -> None:
    dead = DeadLetters()
    registry = CollectorRegistry()
    metrics = WriterMetrics(registry)

    def refuse(table_name: str, *args: Any, **kwargs: Any) -> int:
        raise StoreError(117, "Incorrect data", "INCORRECT_DATA")

    quarantine = Quarantine(refuse, dead.send, metrics, timeout_s=5)
    offender = Offender("otel_logs", "tok", bus_record(SPANS, 3), -1, OverflowError("x"))
    await quarantine.put(offender)
    assert len(dead.sent) == 1
    assert sample(registry, "exos_writer_quarantine_failures_total") == 1

    refusing = FakeTable()
    refusing.outages = 1
    quarantine = Quarantine(refusing.insert, dead.send, metrics, timeout_s=5)
    with pytest.raises(RetryLater):
        await quarantine.put(offender)
    await quarantine.put(offender)
    assert len(refusing.rows[QUARANTINE_TABLE]) == 1 and len(dead.sent) == 2


async def test_a_writer_killed_mid_bisection_is_replayed_into_the_same_sub_batches() -> None:
    table, dead = FakeTable(refused={"bad"}), DeadLetters()
    table.kill_after = 1  # dies right after the first half is stored
    inserter, _ = make_inserter(table, dead)
    with pytest.raises(Killed):
        await inserter.insert(with_entries([[1], [2], ["bad"], [4]]))
    assert [r[0] for r in table.rows["otel_traces"]] == [1, 2]
    table.kill_after = None
    restarted, _ = make_inserter(table, dead)
    await restarted.insert(with_entries([[1], [2], ["bad"], [4]]))
    assert sorted(r[0] for r in table.rows["otel_traces"]) == [1, 2, 4]
    assert quarantined(table) == [(12, -1, "CANNOT_ENCODE")]


# --- watchdog ------------------------------------------------------------------------


def test_watchdog_names_a_partition_with_work_and_no_commit() -> None:
    clock = FakeClock()
    watchdog = ProgressWatchdog(120.0, clock)
    other = TopicPartition(SPANS, 1)
    watchdog.has_work(TP)
    clock.now += 60
    watchdog.has_work(other)
    watchdog.has_work(TP)  # more records do not reset the wait
    clock.now += 60
    assert watchdog.stalled() == [TP]
    watchdog.committed(TP, work_left=True)
    assert watchdog.stalled() == []
    clock.now += 60
    assert watchdog.stalled() == [other]
    watchdog.committed(other, work_left=False)
    watchdog.forget(TP)
    clock.now += 1000
    assert watchdog.stalled() == []
