"""Faults around the writer as its own process, over the real Kafka broker and the
embedded ClickHouse server: the writer SIGKILLed while it bisects a batch holding poison
records, and the ClickHouse server SIGKILLed and restarted while the writer inserts.
Only public surfaces are read: the tables, the group's commits, the dead-letter topic,
/metrics and /readyz."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exos_common.bus import OutgoingRecord, create_bus
from exos_common.messages import LogRecord, SpanRecord
from exos_common.settings import KafkaSettings, StoreSettings
from exos_common.store import Store, open_store
from exos_common.table_payload import encode_payload
from exos_common.testing.clickhouse import EmbeddedClickHouseServer
from exos_common.testing.kafka import KafkaBroker
from exos_common.testing.processes import prepare_database
from exos_common.topics import Topic

from . import kafka_offsets
from .conftest import ServiceProcess

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse_server]

SPANS, LOGS, DEAD = str(Topic.SPANS_ENRICHED), str(Topic.LOGS_ENRICHED), str(Topic.DEAD_LETTER)
WRITER_TOPICS = (SPANS, LOGS, str(Topic.REPLAY_RAW))
PARTITIONS = 4
REFUSED_UINT8 = "CANNOT_PARSE_INPUT_ASSERTION_FAILED"
NOW_NS = time.time_ns() // 1_000_000_000 * 1_000_000_000


def span(run: str, i: int, session: str, timestamp_ns: int | None = None) -> OutgoingRecord:
    record = SpanRecord(
        session_id=session,
        timestamp_ns=NOW_NS + i if timestamp_ns is None else timestamp_ns,
        trace_id=f"{i:032x}",
        span_id=f"{run}{i:08x}",
        name="click",
        service_name="faults",
        resource_attributes={"rum.sessionId": session},
    )
    payload = encode_payload("otel_traces", [record])  # as enrich publishes it
    return OutgoingRecord(SPANS, payload.body, session.encode(), payload.headers())


def log(run: str, i: int, session: str, severity_number: int = 9) -> OutgoingRecord:
    record = LogRecord(
        session_id=session,
        timestamp_ns=NOW_NS + i,
        service_name="faults",
        body=f"{run} log {i}",
        severity_number=severity_number,
        resource_attributes={"rum.sessionId": session},
    )
    payload = encode_payload("otel_logs", [record])
    return OutgoingRecord(LOGS, payload.body, session.encode(), payload.headers())


def stored(store: Store, table: str, id_column: str, run: str) -> tuple[int, int]:
    row = store.query_rows(
        f"SELECT count(), uniqExact({id_column}) FROM {table} "
        "WHERE startsWith(ResourceAttributes['rum.sessionId'], {run:String})",
        {"run": run},
    )[0]
    return int(row[0]), int(row[1])


def quarantined(store: Store, run: str) -> list[tuple[str, str, bytes]]:
    """(table, error name, original record) of every quarantine row of this run."""
    rows = store.query_rows(
        "SELECT target_table, error_name, base64Decode(raw_message) AS raw FROM exos_quarantine "
        "WHERE position(raw, {run:String}) > 0 ORDER BY target_table, raw",
        {"run": run},
    )
    return [
        (str(t), str(name), raw.encode() if isinstance(raw, str) else raw) for t, name, raw in rows
    ]


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels` (0 when none)."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not met in {timeout_s}s: {what}")
        time.sleep(0.1)


async def publish(bootstrap: str, records: list[OutgoingRecord]) -> None:
    bus = create_bus("kafka", KafkaSettings(kafka_bootstrap=bootstrap))
    await bus.start()
    try:
        for i in range(0, len(records), 500):
            await bus.publish_many(records[i : i + 500])
    finally:
        await bus.stop()


def assert_committed_to_the_end(bootstrap: str, group: str) -> None:
    ends = asyncio.run(kafka_offsets.end_offsets(bootstrap, [SPANS, LOGS]))
    committed = asyncio.run(kafka_offsets.committed_offsets(bootstrap, group))
    assert {tp: committed.get(tp) for tp in ends} == ends


def writer_env(base: dict[str, str], run: str, **overrides: str) -> dict[str, str]:
    return base | {"EXOS_WRITER_GROUP": f"writer-{run}"} | overrides


def new_group_at_end(bootstrap: str, group: str) -> None:
    asyncio.run(kafka_offsets.ensure_topics(bootstrap, PARTITIONS))
    asyncio.run(kafka_offsets.start_group_at_end(bootstrap, group, WRITER_TOPICS))


# 1. The writer SIGKILLed while it bisects -----------------------------------------------

VALID_SPANS, VALID_LOGS = 3000, 1000
POISON_SPANS, POISON_LOGS = 6, 3


def hostile_batch(run: str) -> tuple[list[OutgoingRecord], list[OutgoingRecord]]:
    """One session (one partition per topic, so one large batch each): valid spans and
    logs with poison records spread through them, a span at 2^63 ns (past DateTime64(9))
    and a log with severity 300 (the column is UInt8). Returns (all records, poison)."""
    session = f"{run}-s0"
    spans = [span(run, i, session) for i in range(VALID_SPANS)]
    logs = [log(run, i, session) for i in range(VALID_LOGS)]
    bad_spans = [
        span(run, 10_000 + k, session, timestamp_ns=2**63 + k) for k in range(POISON_SPANS)
    ]
    bad_logs = [log(run, 10_000 + k, session, severity_number=300) for k in range(POISON_LOGS)]
    for k, bad in enumerate(bad_spans):
        spans.insert((k + 1) * VALID_SPANS // (POISON_SPANS + 1), bad)
    for k, bad in enumerate(bad_logs):
        logs.insert((k + 1) * VALID_LOGS // (POISON_LOGS + 1), bad)
    return spans + logs, bad_spans + bad_logs


@pytest.fixture
def writers() -> Iterator[list[ServiceProcess]]:
    """Writer processes of a test; any still running at its end (a failed assertion) is
    killed so it does not outlive the test."""
    started: list[ServiceProcess] = []
    yield started
    for writer in started:
        if writer.process is not None and writer.process.poll() is None:
            writer.kill()


def test_writer_killed_during_a_bisection_stores_each_record_once(
    platform_env: dict[str, str], e2e_store: Store, tmp_path: Path, writers: list[ServiceProcess]
) -> None:
    run = uuid.uuid4().hex[:8]
    bootstrap = platform_env["EXOS_KAFKA_BOOTSTRAP"]
    env = writer_env(
        platform_env,
        run,
        # The whole backlog forms one batch per partition: bisection takes many inserts.
        EXOS_WRITER_BATCH_AGE_S="2",
        EXOS_WRITER_BACKOFF_MAX_S="1",
    )
    new_group_at_end(bootstrap, env["EXOS_WRITER_GROUP"])
    records, poison = hostile_batch(run)
    asyncio.run(publish(bootstrap, records))

    writer = ServiceProcess("writer", env, tmp_path)
    writers.append(writer)
    started = time.monotonic()
    writer.start()
    wait_until(
        lambda: metric(writer.metrics(), "exos_writer_bisection_inserts_total") >= 4,
        60,
        "the writer bisects",
    )
    bisections_then = metric(writer.metrics(), "exos_writer_bisection_inserts_total")
    writer.kill()
    killed_at = time.monotonic() - started
    spans_then = stored(e2e_store, "otel_traces", "SpanId", run)[0]
    logs_then = stored(e2e_store, "otel_logs", "Body", run)[0]
    # Killed mid-bisection: part of the valid records is stored, not all of them.
    assert spans_then + logs_then < VALID_SPANS + VALID_LOGS

    writer.start()
    wait_until(
        lambda: (
            stored(e2e_store, "otel_traces", "SpanId", run)[0] >= VALID_SPANS
            and stored(e2e_store, "otel_logs", "Body", run)[0] >= VALID_LOGS
            and len(quarantined(e2e_store, run)) >= len(poison)
        ),
        60,
        "every record stored or quarantined",
    )
    wait_until(
        lambda: metric(writer.metrics(), "exos_consumer_lag") == 0,
        20,
        "the writer caught up",
    )
    ready = httpx.get(f"{writer.url}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    assert_committed_to_the_end(bootstrap, env["EXOS_WRITER_GROUP"])
    assert writer.stop(), writer.log_tail()

    assert stored(e2e_store, "otel_traces", "SpanId", run) == (VALID_SPANS, VALID_SPANS)
    assert stored(e2e_store, "otel_logs", "Body", run) == (VALID_LOGS, VALID_LOGS)
    expected = sorted(
        (
            "otel_traces" if bad.topic == SPANS else "otel_logs",
            # ClickHouse refuses the text the payload encoder writes for these values.
            "CANNOT_PARSE_DATETIME"
            if bad.topic == SPANS
            else "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
            bad.value,
        )
        for bad in poison
    )
    assert quarantined(e2e_store, run) == expected
    # The dead-letter topic is at-least-once: a poison record dead-lettered before the
    # kill is dead-lettered again by the next writer.
    letters = [
        v for v in asyncio.run(kafka_offsets.read_topic(bootstrap, DEAD)) if run.encode() in v
    ]
    assert set(letters) == {bad.value for bad in poison}
    assert len(poison) <= len(letters) <= 2 * len(poison)
    print(
        f"killed after {killed_at:.1f}s, {bisections_then:.0f} bisection inserts, "
        f"{spans_then + logs_then} rows stored; "
        f"{len(letters)} dead letters for {len(poison)} poison records; "
        f"total {time.monotonic() - started:.1f}s"
    )


def requests_waiting(port: int) -> int:
    """Connections to `port` on 127.0.0.1 holding bytes the server has not read: requests
    sent and not yet answered (the Linux kernel's socket table)."""
    waiting = 0
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].split(":")[1], 16)
            unread = int(fields[4].split(":")[1], 16)
            if local_port == port and fields[3] == "01" and unread > 0:
                waiting += 1
    return waiting


# 2. The ClickHouse server SIGKILLed and restarted mid-insert ---------------------------


@pytest.fixture
def own_clickhouse(tmp_path: Path) -> Iterator[EmbeddedClickHouseServer]:
    """A ClickHouse server of this test alone: it is killed and restarted."""
    server = EmbeddedClickHouseServer(tmp_path / "clickhouse" / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


class SteadyPublisher(threading.Thread):
    """Publishes `per_tick` valid spans every `every_s` seconds until `stop()`."""

    def __init__(self, bootstrap: str, run: str, per_tick: int = 50, every_s: float = 0.1):
        super().__init__(daemon=True, name="steady-publisher")
        self.bootstrap, self.run_id, self.per_tick, self.every_s = bootstrap, run, per_tick, every_s
        self.published = 0
        self.error: BaseException | None = None
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            asyncio.run(self._publish())
        except BaseException as error:  # reported by the test
            self.error = error

    async def _publish(self) -> None:
        bus = create_bus("kafka", KafkaSettings(kafka_bootstrap=self.bootstrap))
        await bus.start()
        try:
            while not self._stopping.is_set():
                first = self.published
                await bus.publish_many(
                    [
                        span(self.run_id, i, f"{self.run_id}-s{i % 13}")
                        for i in range(first, first + self.per_tick)
                    ]
                )
                self.published += self.per_tick
                await asyncio.sleep(self.every_s)
        finally:
            await bus.stop()

    def stop(self) -> int:
        self._stopping.set()
        self.join(30)
        return self.published


def test_clickhouse_killed_and_restarted_mid_insert_pauses_and_loses_nothing(
    kafka_broker: KafkaBroker,
    own_clickhouse: EmbeddedClickHouseServer,
    tmp_path: Path,
    writers: list[ServiceProcess],
) -> None:
    run = uuid.uuid4().hex[:8]
    bootstrap = kafka_broker.bootstrap
    database = f"faults_{run}"
    prepare_database(own_clickhouse.url, database, dedup_window=10_000)
    env = writer_env(
        {
            **os.environ,
            "EXOS_KAFKA_BOOTSTRAP": bootstrap,
            "EXOS_CLICKHOUSE_URL": own_clickhouse.url,
            "EXOS_CLICKHOUSE_DATABASE": database,
            "EXOS_LOG_LEVEL": "INFO",
            "EXOS_KAFKA_TOPIC_PARTITIONS": str(PARTITIONS),
        },
        run,
        EXOS_WRITER_BATCH_AGE_S="0.2",
        EXOS_WRITER_BATCH_ROWS="200",
        EXOS_WRITER_BACKOFF_MAX_S="1",
    )
    new_group_at_end(bootstrap, env["EXOS_WRITER_GROUP"])
    store_settings = StoreSettings(clickhouse_url=own_clickhouse.url, clickhouse_database=database)

    def stored_spans() -> tuple[int, int]:
        store = open_store(store_settings)
        try:
            return stored(store, "otel_traces", "SpanId", run)
        finally:
            store.close()

    writer = ServiceProcess("writer", env, tmp_path)
    writers.append(writer)
    started = time.monotonic()
    writer.start()
    publisher = SteadyPublisher(bootstrap, run)
    publisher.start()
    wait_until(lambda: stored_spans()[0] >= 500, 30, "the writer inserts")
    # Freeze the server first: the writer's insert in progress, or its next one, waits for
    # an answer, so the SIGKILL cuts a request in flight (a kill alone mostly lands between
    # inserts). clickhouse-connect replays a request the server closed once, so the writer
    # itself reports only the refused connection of that replay.
    assert own_clickhouse.process is not None
    own_clickhouse.process.send_signal(signal.SIGSTOP)
    time.sleep(1.5)
    in_flight = requests_waiting(own_clickhouse.port)
    own_clickhouse.kill()
    down_at = publisher.published
    time.sleep(4)
    paused_while_down = metric(writer.metrics(), "exos_consumer_paused_partitions")
    errors_while_down = writer.metrics()
    readiness_while_down = httpx.get(f"{writer.url}/readyz", timeout=10)
    own_clickhouse.start()
    wait_until(lambda: publisher.published >= down_at + 1000, 30, "more records after the restart")
    total = publisher.stop()
    assert publisher.error is None, publisher.error
    wait_until(lambda: stored_spans()[0] >= total, 60, "every record stored")
    wait_until(
        lambda: metric(writer.metrics(), "exos_consumer_lag") == 0, 20, "the writer caught up"
    )
    text = writer.metrics()
    readiness_after = httpx.get(f"{writer.url}/readyz", timeout=10)
    assert_committed_to_the_end(bootstrap, env["EXOS_WRITER_GROUP"])
    assert writer.stop(), writer.log_tail()

    assert stored_spans() == (total, total)
    # The outage paused the partitions and failed inserts as transient, never as data.
    assert paused_while_down >= 1
    assert readiness_while_down.status_code == 503
    assert readiness_while_down.json()["checks"]["clickhouse"] == "failing"
    assert readiness_after.status_code == 200, readiness_after.text
    assert (
        metric(errors_while_down, "exos_writer_insert_errors_total", error_class="transient") >= 1
    )
    assert metric(text, "exos_consumer_paused_seconds_total") > 0
    for error_class in ("data", "unknown"):
        assert metric(text, "exos_writer_insert_errors_total", error_class=error_class) == 0
    assert metric(text, "exos_writer_quarantined_records_total") == 0
    assert metric(text, "exos_consumer_dead_letters_total") == 0
    store = open_store(store_settings)
    try:
        assert store.query_rows("SELECT count() FROM exos_quarantine")[0][0] == 0
    finally:
        store.close()
    print(
        f"{total} spans, ClickHouse frozen 1.5s then down 4s after {down_at} published; "
        f"requests unread at the kill: {in_flight}; "
        f"transient insert errors "
        f"{metric(text, 'exos_writer_insert_errors_total', error_class='transient'):.0f}, "
        f"paused {metric(text, 'exos_consumer_paused_seconds_total'):.1f}s; "
        f"total {time.monotonic() - started:.1f}s"
    )
