"""A writer process frozen (SIGSTOP) past its session timeout while it holds batches,
as a starved process under CPU load: the group expels it and another writer stores its
records. When the frozen writer wakes up (SIGCONT) it rejoins, may get some of the same
partitions back, and must start them again from the group's commits: what it held from
before the freeze belongs to no assignment anymore. Every record is stored once.

Writer A batches slowly (large age bound), so it still holds all of the first round
when it is frozen; writer B, started during the freeze, batches fast. Then a second
round goes to both. Counts are exact: 160 + 400 spans, each once.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import pytest

from exos_common.store import Store
from exos_common.topics import Topic

from . import kafka_offsets
from .conftest import ServiceProcess
from .test_writer_process import publish, spans, stored, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse_server]

FIRST_ROUND = 160
SECOND_ROUND = 400
WRITER_TOPICS = [str(Topic.SPANS_ENRICHED), str(Topic.LOGS_ENRICHED), str(Topic.REPLAY_RAW)]


def records_fetched(writer: ServiceProcess) -> float:
    for line in writer.metrics().splitlines():
        if line.startswith('exos_consumer_records_total{topic="spans.enriched"}'):
            return float(line.split()[-1])
    return 0.0


def group_members(bootstrap: str, group: str) -> int:
    return asyncio.run(kafka_offsets.group_members(bootstrap, group))


def caught_up(bootstrap: str, group: str) -> bool:
    ends = asyncio.run(kafka_offsets.end_offsets(bootstrap, [str(Topic.SPANS_ENRICHED)]))
    committed = asyncio.run(kafka_offsets.committed_offsets(bootstrap, group))
    return all(committed.get(tp) == end for tp, end in ends.items())


@pytest.mark.timeout(600)
def test_a_writer_frozen_past_its_session_stores_nothing_twice_when_it_wakes(
    platform_env: dict[str, str], e2e_store: Store, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    group = f"writer-{run}"
    env = platform_env | {"EXOS_WRITER_GROUP": group, "EXOS_WRITER_BATCH_ROWS": "100"}
    bootstrap = env["EXOS_KAFKA_BOOTSTRAP"]
    asyncio.run(kafka_offsets.ensure_topics(bootstrap, int(env["EXOS_KAFKA_TOPIC_PARTITIONS"])))
    asyncio.run(kafka_offsets.start_group_at_end(bootstrap, group, WRITER_TOPICS))
    slow = ServiceProcess("writer", env | {"EXOS_WRITER_BATCH_AGE_S": "300"}, tmp_path)
    fast = ServiceProcess("writer", env | {"EXOS_WRITER_BATCH_AGE_S": "0.2"}, tmp_path)
    slow.start()
    try:
        asyncio.run(publish(bootstrap, spans(run, 0, FIRST_ROUND)))
        wait_until(lambda: records_fetched(slow) >= FIRST_ROUND, 60)
        assert stored(e2e_store, run) == (0, 0)  # held in its batches, none due
        assert slow.process is not None
        slow.process.send_signal(signal.SIGSTOP)
        # B joins; the group waits for the frozen A until its session times out, expels
        # it, and gives B every partition from the last commits (the round's start).
        fast.start(timeout_s=120)
        wait_until(lambda: stored(e2e_store, run)[0] >= FIRST_ROUND, 120)
        slow.process.send_signal(signal.SIGCONT)
        # A finds itself expelled, rejoins, and gets part of the partitions again.
        wait_until(lambda: group_members(bootstrap, group) == 2, 120)
        asyncio.run(publish(bootstrap, spans(run, FIRST_ROUND, SECOND_ROUND)))
        wait_until(lambda: records_fetched(fast) > FIRST_ROUND, 60)
        slow.stop()  # drains whatever it holds
        wait_until(lambda: caught_up(bootstrap, group), 120)
        fast.stop()
    finally:
        for writer in (slow, fast):
            if writer.process is not None and writer.process.poll() is None:
                writer.process.send_signal(signal.SIGCONT)
                writer.kill()
    total = FIRST_ROUND + SECOND_ROUND
    rows, spans_once = stored(e2e_store, run)
    print(f"stored {rows} rows of {total} spans ({rows - spans_once} twice)")
    assert (rows, spans_once) == (total, total), slow.log_tail(80)
    # Its shutdown drains without error (it used to fail on a batch left from before the
    # freeze, of a partition it no longer had). How long the drain takes depends on the
    # machine's load, so a slow one is not checked here.
    for writer in (slow, fast):
        log = writer.log_path.read_text(errors="replace")
        assert "Application shutdown failed" not in log, writer.log_tail()
        assert "consumer_loop_failed" not in log, writer.log_tail()
