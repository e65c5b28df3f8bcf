"""The two hostile scenarios, written once against callables so the in-process pipeline
and the processes over Kafka run exactly the same checks."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

import httpx
from prometheus_client.parser import text_string_to_metric_families

from exos_common.bus import OutgoingRecord
from exos_common.store import Store

from .ledger import Ledger, Post, per_session, quarantine, send_all, stored, wait_until
from .traffic import (
    LOGS,
    LOGS_PER_SESSION,
    SPANS_PER_SESSION,
    TRACES,
    bypass_records,
    corpus_requests,
    generated_requests,
    handwritten_requests,
    interleaved,
    valid_session,
)

VALID_SESSIONS = 24
BYPASS_SESSIONS = 12
LANDING_TIMEOUT_S = 90.0
SETTLE_S = 2.0  # anything still in flight (a duplicate) would show up by then

Get = Callable[[], Awaitable[httpx.Response]]
Publish = Callable[[Sequence[OutgoingRecord]], Awaitable[None]]


def gauge(text: str, name: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} is not exposed")


async def assert_writer_healthy(readyz: Get, metrics: Get) -> None:
    ready = await readyz()
    assert ready.status_code == 200, ready.text
    assert gauge((await metrics()).text, "exos_writer_stalled_partitions") == 0


async def watch_readiness(readyz: Get, unready: list[str], every_s: float = 0.5) -> None:
    """Poll the writer's /readyz until cancelled, noting every answer that is not 200."""
    while True:
        answer = await readyz()
        if answer.status_code != 200:
            unready.append(answer.text)
        await asyncio.sleep(every_s)


def whole(sessions: Sequence[str], spans: int, logs: int) -> dict[str, tuple[int, int, int, int]]:
    return {session: (spans, spans, logs, logs) for session in sessions}


async def hostile_run(post: Post, store: Store, readyz: Get, metrics: Get) -> Ledger:
    run = uuid.uuid4().hex[:8]
    now_ns = time.time_ns()
    hostile = corpus_requests(now_ns) + handwritten_requests(now_ns) + generated_requests()
    # The database may hold an earlier test's rows: count from here.
    before = {signal: stored(store, signal) for signal in (TRACES, LOGS)}
    quarantined_before = len(quarantine(store))
    unready: list[str] = []
    watcher = asyncio.create_task(watch_readiness(readyz, unready))
    try:
        ledger = await send_all(post, interleaved(run, VALID_SESSIONS, hostile, now_ns))
    finally:
        watcher.cancel()
    assert not ledger.problems, "\n".join(ledger.problems)
    assert unready == []  # the writer stayed ready while the hostile traffic went through

    # Every accepted record is stored once or quarantined: the counts meet and stay met.
    def landed() -> bool:
        return all(
            stored(store, signal) - before[signal] == ledger.accepted[signal]
            for signal in (TRACES, LOGS)
        )

    def where() -> str:
        found = {signal: stored(store, signal) - before[signal] for signal in (TRACES, LOGS)}
        return f"accepted {ledger.accepted}, stored or quarantined {found}"

    await wait_until(landed, LANDING_TIMEOUT_S, where)
    await asyncio.sleep(SETTLE_S)
    assert landed(), where()
    quarantined = quarantine(store)
    assert all(row[4] for row in quarantined)  # each with its reason
    # Ingest promises that what it accepted fits the columns: nothing needed quarantine.
    assert len(quarantined) == quarantined_before, [(r[0], r[4][:160]) for r in quarantined]

    valid = [f"{run}-v{n}" for n in range(VALID_SESSIONS)]
    assert per_session(store, run) == whole(valid, SPANS_PER_SESSION, LOGS_PER_SESSION)
    await assert_writer_healthy(readyz, metrics)

    # The pipeline still works: one more session lands whole.
    final = f"{run}-final"
    after = await send_all(post, valid_session(final, 999, time.time_ns()))
    assert after.statuses == {200: 2}, after.summary()
    expected = whole([*valid, final], SPANS_PER_SESSION, LOGS_PER_SESSION)
    await wait_until(
        lambda: per_session(store, run) == expected,
        LANDING_TIMEOUT_S,
        lambda: f"final session: {per_session(store, run).get(final)}",
    )
    await assert_writer_healthy(readyz, metrics)
    return ledger


async def bypass_run(publish: Publish, store: Store, readyz: Get, metrics: Get) -> None:
    run = uuid.uuid4().hex[:8]
    bypass = bypass_records(run, BYPASS_SESSIONS, time.time_ns())
    await publish(bypass.records)

    def quarantined() -> set[str]:
        return {row[5] for row in quarantine(store)}

    expected = whole(bypass.sessions, 1, 1)
    await wait_until(
        lambda: per_session(store, run) == expected and len(quarantined()) == len(bypass.bad),
        LANDING_TIMEOUT_S,
        lambda: f"sessions {per_session(store, run)}, quarantined {len(quarantined())}",
    )
    await asyncio.sleep(SETTLE_S)
    assert per_session(store, run) == expected
    rows = quarantine(store)
    # The quarantine holds the records' values as sent (JSON, so they read back as text).
    bad = {what: value.decode() for what, value in bypass.bad.items()}
    assert sorted(row[5] for row in rows) == sorted(bad.values())
    tables = {row[5]: row[0] for row in rows}
    assert {what: tables[value] for what, value in bad.items()} == {
        "span at 2^63 ns": "otel_traces",
        "span of duration -1": "otel_traces",
        "log severity 300": "otel_logs",
        "log trace flags 256": "otel_logs",
    }
    assert all(row[2] == "data" and row[4] for row in rows), rows
    await assert_writer_healthy(readyz, metrics)
