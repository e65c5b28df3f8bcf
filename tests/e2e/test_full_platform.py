"""The whole platform as separate processes, as docker-compose wires it: a real Kafka
broker, the embedded ClickHouse server, ingest, TWO enrich and TWO writer replicas,
query-api, replay, insights and the gateway. Traffic comes from the demo loader and
from the real HyperDX SDK in Chromium; one enrich and one writer replica are SIGKILLed
mid-stream; afterwards every table holds exactly what was sent, and the portal answers
through the gateway."""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from exos.demo.loader import DemoSummary, load_demo
from exos_common.store import Store
from exos_common.testing import dates
from exos_common.testing.fake_llm import FakeLLM, prompt_text
from exos_common.testing.processes import ServiceProcess
from exos_common.testing.stack import Stack

from . import kafka_offsets
from .conftest import TEST_OVERRIDES
from .diagnose import explain, membership_events
from .sdk_session import record_session

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse_server]

SCALE = 0.1
SEED = 5
# The latest Friday 17:00 UTC before the run (11:00 or 12:00 in Chicago): the data stays
# inside the tables' retention and its last hours are office hours, on any run date.
ANCHOR = dates.DEMO_ANCHOR
SIGNALS = "('rage_click', 'dead_click', 'quick_back', 'excessive_scroll')"
TOKEN = "e2e-gateway-token"
DEMO_ONLY = "AND ServiceName != 'e2e-portal'"


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture
def stack(platform_env: dict[str, str], tmp_path: Path, llm: FakeLLM) -> Iterator[Stack]:
    model = {"EXOS_OPENAI_BASE_URL": llm.base_url, "EXOS_OPENAI_API_KEY": "e2e-model-key"}
    stack = Stack(
        platform_env,
        tmp_path,
        api_key=f"key-{uuid.uuid4().hex[:6]}",
        gateway_token=TOKEN,
        overrides=TEST_OVERRIDES | model,
    )
    # Earlier tests' records on the shared broker are not this platform's input.
    asyncio.run(kafka_offsets.start_pipeline_groups_at_end(stack.env))
    running = stack.start()
    yield running
    running.stop()


def records_fetched(service: ServiceProcess, topic: str) -> float:
    pattern = rf'exos_consumer_records_total\{{topic="{re.escape(topic)}"\}} ([0-9.e+]+)'
    try:
        metrics = service.metrics()
    except httpx.TimeoutException:
        return 0.0  # a scrape slowed down by a loaded machine: ask again until the deadline
    found = re.search(pattern, metrics)
    return float(found.group(1)) if found else 0.0


def count(store: Store, sql: str) -> int:
    return int(store.query_rows(sql)[0][0])


def stored(store: Store, run_filter: str) -> tuple[int, int, int, int]:
    return (
        count(
            store, f"SELECT count() FROM otel_traces WHERE SpanName NOT IN {SIGNALS} {run_filter}"
        ),
        count(store, f"SELECT count() FROM otel_logs WHERE 1 {run_filter}"),
        count(store, "SELECT count() FROM hyperdx_sessions"),
        count(store, f"SELECT count() FROM otel_traces WHERE SpanName IN {SIGNALS} {run_filter}"),
    )


def expected(summary: DemoSummary) -> tuple[int, int, int, int]:
    signals = (
        summary.rage_clicks + summary.dead_clicks + summary.quick_backs + summary.excessive_scrolls
    )
    return (summary.spans, summary.log_records, summary.replay_chunks, signals)


def signals_by_name(store: Store) -> dict[str, int]:
    rows = store.query_rows(
        f"SELECT SpanName, count() FROM otel_traces WHERE SpanName IN {SIGNALS} {DEMO_ONLY} "
        "GROUP BY SpanName"
    )
    return {str(name): int(n) for name, n in rows}


def expected_signals(summary: DemoSummary) -> dict[str, int]:
    found = {
        "rage_click": summary.rage_clicks,
        "dead_click": summary.dead_clicks,
        "quick_back": summary.quick_backs,
        "excessive_scroll": summary.excessive_scrolls,
    }
    return {name: n for name, n in found.items() if n}


def wait_until(check: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.3)


def wait_for_value(read: Callable[[], object], want: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while (got := read()) != want:
        if time.monotonic() > deadline:
            raise AssertionError(f"got {got}, expected {want}")
        time.sleep(0.3)


class DemoLoad(threading.Thread):
    """The demo loader against ingest's real socket, in the background."""

    def __init__(self, ingest_url: str, api_key: str) -> None:
        super().__init__(daemon=True)
        self.ingest_url, self.api_key = ingest_url, api_key
        self.summary: DemoSummary | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.summary = asyncio.run(
                load_demo(
                    self.ingest_url,
                    scale=SCALE,
                    seed=SEED,
                    api_key=self.api_key,
                    progress=False,
                    anchor=ANCHOR,
                    traces_encoding="protobuf",
                )
            )
        except BaseException as exc:  # surfaced by the test
            self.error = exc


@pytest.mark.timeout(900)
def test_the_platform_as_separate_processes(
    stack: Stack, e2e_store: Store, page_server: str, llm: FakeLLM
) -> None:
    load = DemoLoad(stack.ingest.url, stack.api_key)
    load.start()
    # Both replicas of each group get partitions and consume: their own metrics say so.
    for replica in stack.enrich:
        wait_until(lambda r=replica: records_fetched(r, "otlp.spans.raw") > 0, 90, "enrich")
    for replica in stack.writers:
        wait_until(lambda r=replica: records_fetched(r, "spans.enriched") > 0, 90, "writer")
    # Mid-stream: one replica of each dies without flushing or committing.
    stack.enrich[1].kill()
    stack.writers[1].kill()
    assert load.is_alive(), "the demo load finished before the kills: raise SCALE"
    session_id, page_errors = record_session(page_server, stack.ingest.url, stack.api_key)
    load.join(300)
    assert load.error is None, load.error
    assert load.summary is not None and load.summary.rejected == 0
    want = expected(load.summary)
    print(f"demo load: {load.summary.requests} requests, {load.summary.retries} retried")
    try:
        wait_for_value(lambda: stored(e2e_store, DEMO_ONLY)[:2], want[:2], 180)
    except AssertionError as exc:
        # Lost or stored twice: say where the difference came from (enrich or writer).
        bootstrap = stack.env["EXOS_KAFKA_BOOTSTRAP"]
        why = explain(e2e_store, bootstrap, DEMO_ONLY, stack.enrich[0].log_path.parent)
        raise AssertionError(f"{exc}; {why}") from exc
    print(f"membership events: {membership_events(stack.enrich[0].log_path.parent)}")
    wait_for_value(lambda: signals_by_name(e2e_store), expected_signals(load.summary), 60)
    # The SDK's session landed too, with its recording (replay chunks of both sources).
    sdk_spans = e2e_store.query_rows(
        "SELECT count() FROM otel_traces WHERE ServiceName = 'e2e-portal' "
        "AND ResourceAttributes['rum.sessionId'] = {s:String} AND SpanName = 'click'",
        {"s": session_id},
    )[0][0]
    assert sdk_spans == 16  # 8 physical clicks, each sent twice by the SDK
    assert page_errors == ["boom from e2e"]
    demo_traces, demo_logs, chunks, signals = stored(e2e_store, DEMO_ONLY)
    assert (demo_traces, demo_logs, signals) == (want[0], want[1], want[3])
    assert chunks > want[2]  # the demo's chunks plus the SDK session's, none twice
    # No demo span twice (the SDK session's own repeats are the SDK's: checked above by
    # its click count).
    duplicates = count(
        e2e_store,
        f"SELECT count() FROM (SELECT SpanId, count() AS n FROM otel_traces WHERE 1 {DEMO_ONLY} "
        "GROUP BY SpanId, TraceId, SpanName HAVING n > 1)",
    )
    assert duplicates == 0

    check_the_portal_through_the_gateway(stack, e2e_store, llm, session_id)


SESSIONS_PER_BROWSER = (
    "SELECT SpanAttributes['visitor.browser'] AS browser, "
    "uniqExact(ResourceAttributes['rum.sessionId']) AS sessions "
    "FROM otel_traces WHERE SpanName = 'documentLoad' "
    "GROUP BY browser ORDER BY sessions DESC, browser LIMIT 5"
)


def check_the_portal_through_the_gateway(
    stack: Stack, store: Store, llm: FakeLLM, session_id: str
) -> None:
    gateway = stack.gateway.url
    assert httpx.get(f"{gateway}/api/sessions").status_code == 401
    portal = httpx.Client(
        base_url=gateway, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    )
    for page in ("/", "/process-mining", "/sessions", "/analytics", "/site-health", "/guide"):
        answer = portal.get(page, headers={"Accept": "text/html"})
        assert answer.status_code == 200, (page, answer.text[:300])
    # query-api through the gateway counts what ClickHouse holds.
    stats = portal.get("/api/stats").json()
    traces = {t["table"]: t for t in stats["tables"]}["otel_traces"]
    assert traces["total_rows"] == count(store, "SELECT count() FROM otel_traces")
    # replay through the gateway: the SDK's session, its recording and tabs.
    detail = portal.get(f"/api/sessions/{session_id}")
    assert detail.status_code == 200, detail.text
    events = portal.get(f"/api/sessions/{session_id}/events")
    assert events.status_code == 200 and events.json()["events"], events.text[:300]
    player = portal.get(f"/replay/{session_id}", headers={"Accept": "text/html"})
    assert player.status_code == 200
    # Ask AI through the gateway, against the local model server.
    llm.expect(
        {
            "sql": SESSIONS_PER_BROWSER,
            "explanation": "Sessions per visitor browser.",
            "title": "Sessions by browser",
            "chart": {"kind": "bar", "x": "browser", "y": ["sessions"]},
        },
        check=lambda request: None if "otel_traces" in prompt_text(request) else 1 / 0,
    )
    llm.expect({"narrative": "Most sessions use the first browser."})
    asked = portal.post("/api/insights/ask", json={"question": "Sessions by browser?"})
    assert asked.status_code == 200, asked.text
    expected_rows = [list(row) for row in store.query_rows(SESSIONS_PER_BROWSER)]
    assert asked.json()["rows"] == expected_rows and expected_rows
    assert llm.failures == []
