"""The demo data set through the real path, in one process: `load_demo` posts to the
ingest app (httpx ASGI transport, from 127.0.0.1 as a trusted proxy so the operators'
X-Forwarded-For addresses count), enrich and writer run on the in-process bus, the
tables live in chDB. Then every reference example query returns rows, and enrich found
exactly the frustration the scenario put in."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from exos.demo.loader import DemoSummary, load_demo
from exos.demo.seed_queries import (
    OBJECT_INTERACTION,
    OBJECT_INTERACTION_PAIRS,
    SEED_QUERIES,
    WEB_VITALS_BY_PAGE,
    WEB_VITALS_BY_PAGE_SDK,
)
from exos_common.bus.memory import InProcessBus
from exos_common.schema import migrate
from exos_common.settings import StoreSettings
from exos_common.store import Store, open_store
from exos_common.testing import dates
from exos_common.topics import pipeline_topic_specs
from exos_enrich.app import create_app as create_enrich
from exos_enrich.settings import EnrichSettings
from exos_ingest.app import create_app as create_ingest
from exos_ingest.settings import IngestSettings
from exos_writer.app import create_app as create_writer
from exos_writer.settings import WriterSettings

SCALE = 0.05
SEED = 11
API_KEY = "demo-test-key"
# The latest Friday 17:00 UTC before the run (11:00 or 12:00 in Chicago): the data stays
# inside the tables' retention and its last hours are office hours, on any run date.
ANCHOR = dates.DEMO_ANCHOR


def chicago_mmdb(path: Path) -> Path:
    """A MaxMind City database that knows Comcast's Chicago range (where most of the
    demo team sits), so `visitor.city` is filled as in production."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True)
    writer.insert_network(
        IPSet(["73.160.0.0/14"]),
        {
            "city": {"names": {"en": "Chicago"}},
            "subdivisions": [{"iso_code": "IL", "names": {"en": "Illinois"}}],
            "country": {"iso_code": "US", "names": {"en": "United States"}},
        },
    )
    writer.to_db_file(str(path))
    return path


@dataclass
class Loaded:
    store: Store
    summary: DemoSummary


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def loaded(
    chdb_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Loaded]:
    database = f"demo_{uuid.uuid4().hex[:8]}"
    settings = StoreSettings(clickhouse_url=f"chdb://{chdb_path}", clickhouse_database=database)
    store = open_store(settings, create_database=True)
    migrate(store, settings, dedup_window=1000)
    bus = InProcessBus()
    await bus.ensure_topics(pipeline_topic_specs(2, 1, 8 * 1024 * 1024))
    ingest = create_ingest(
        IngestSettings(ingest_api_keys=API_KEY, ingest_trusted_proxies="127.0.0.0/8"), bus=bus
    )
    mmdb = chicago_mmdb(tmp_path_factory.mktemp("geo") / "city.mmdb")
    enrich = create_enrich(
        EnrichSettings(enrich_signal_settle_s=0.5, frustration_client_grace_ms=0, geoip_mmdb=mmdb),
        bus=bus,
    )
    writer = create_writer(
        WriterSettings(
            writer_batch_age_s=0.2,
            clickhouse_url=f"chdb://{chdb_path}",
            clickhouse_database=database,
        ),
        bus=bus,
        store=store,
    )
    async with AsyncExitStack() as stack:
        for app in (enrich, writer):
            await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=ingest, client=("127.0.0.1", 40000))
        summary = await load_demo(
            "http://ingest",
            scale=SCALE,
            seed=SEED,
            api_key=API_KEY,
            progress=False,
            anchor=ANCHOR,
            transport=transport,
        )
        await wait_for_rows(store, summary)
        yield Loaded(store, summary)
    store.command(f"DROP DATABASE IF EXISTS {database}")
    store.close()


def count(store: Store, sql: str) -> int:
    return int(store.query_rows(sql)[0][0])


SIGNALS = "('rage_click', 'dead_click', 'quick_back', 'excessive_scroll')"


async def wait_for_rows(store: Store, summary: DemoSummary, timeout_s: float = 60.0) -> None:
    expected_signals = (
        summary.rage_clicks + summary.dead_clicks + summary.quick_backs + summary.excessive_scrolls
    )
    deadline = time.monotonic() + timeout_s
    while True:
        got = (
            count(store, f"SELECT count() FROM otel_traces WHERE SpanName NOT IN {SIGNALS}"),
            count(store, "SELECT count() FROM otel_logs"),
            count(store, "SELECT count() FROM hyperdx_sessions"),
            count(store, f"SELECT count() FROM otel_traces WHERE SpanName IN {SIGNALS}"),
        )
        want = (summary.spans, summary.log_records, summary.replay_chunks, expected_signals)
        if got == want:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"rows {got}, expected {want}")
        await asyncio.sleep(0.25)


def test_everything_sent_is_stored_and_nothing_refused(loaded: Loaded) -> None:
    summary = loaded.summary
    assert summary.rejected == 0
    assert summary.retries == 0
    assert summary.sessions > 10 and summary.spans > 3000 and summary.rrweb_events > 1000
    # One rrweb event (the big report preview) was sent as two chunks.
    assert summary.replay_chunks == summary.rrweb_events + 1


@pytest.mark.parametrize("name", sorted(SEED_QUERIES))
def test_every_seed_query_returns_rows(loaded: Loaded, name: str) -> None:
    _, _, sql = SEED_QUERIES[name]
    if sql == WEB_VITALS_BY_PAGE:
        # One metric per webvitals span (the SDK's shape): the verbatim toFloat64('')
        # fails, the OrNull twin answers.
        with pytest.raises(Exception, match="Cannot parse"):
            loaded.store.query_rows(sql)
        sql = WEB_VITALS_BY_PAGE_SDK
    if sql == OBJECT_INTERACTION:
        # The two identical arrayJoin()s are one join in ClickHouse: c1 = c2, no rows.
        assert loaded.store.query_rows(sql) == []
        sql = OBJECT_INTERACTION_PAIRS
    rows = loaded.store.query_rows(sql)
    assert rows, name


def test_enrich_finds_exactly_the_frustration_the_scenario_made(loaded: Loaded) -> None:
    summary = loaded.summary
    by_name = dict(
        loaded.store.query_rows(
            f"SELECT SpanName, count() FROM otel_traces WHERE SpanName IN {SIGNALS} GROUP BY 1"
        )
    )
    assert by_name.get("rage_click", 0) == summary.rage_clicks > 0
    assert by_name.get("dead_click", 0) == summary.dead_clicks > 0
    assert by_name.get("quick_back", 0) == summary.quick_backs > 0
    assert by_name.get("excessive_scroll", 0) == summary.excessive_scrolls


def test_visitors_are_enriched_from_the_operators_addresses(loaded: Loaded) -> None:
    rows = loaded.store.query_rows(
        "SELECT SpanAttributes['visitor.city'], SpanAttributes['visitor.browser'], "
        "SpanAttributes['visitor.ip'] FROM otel_traces WHERE SpanName = 'documentLoad' "
        "AND SpanAttributes['visitor.city'] = 'Chicago' LIMIT 1"
    )
    city, browser, ip = rows[0]
    assert (city, ip.startswith("73.16"), ip.endswith(".x.x")) == ("Chicago", True, True)
    assert browser in ("Chrome", "Edge", "Firefox", "Safari")
