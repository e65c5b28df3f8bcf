"""ingest -> enrich -> writer in one process on the in-process bus and chDB: the services'
own apps and loops, wired as the all-in-one mode wires them."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from exos_common.bus.memory import InProcessBus
from exos_common.schema import migrate
from exos_common.settings import StoreSettings
from exos_common.store import Store, open_store
from exos_common.topics import pipeline_topic_specs
from exos_enrich.app import create_app as create_enrich
from exos_enrich.settings import EnrichSettings
from exos_ingest.app import create_app as create_ingest
from exos_ingest.settings import IngestSettings
from exos_writer.app import create_app as create_writer
from exos_writer.settings import WriterSettings

CHROME_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36"
)


def attr(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def span(name: str, start_ns: int, span_id: int, **attributes: str) -> dict[str, Any]:
    return {
        "traceId": f"{span_id:032x}",
        "spanId": f"{span_id:016x}",
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(start_ns + 1_000_000),
        "attributes": [
            attr(k.replace("_", ".", 1) if k == "location_href" else k, v)
            for k, v in attributes.items()
        ],
    }


def trace_body(session: str, spans: list[dict[str, Any]]) -> dict[str, Any]:
    resource = [
        attr("service.name", "portal"),
        attr("rum.sessionId", session),
        attr("rum.version", "0.19.0"),
        attr("browser.language", "en-US"),
    ]
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": resource},
                "scopeSpans": [
                    {
                        "scope": {"name": "@opentelemetry/instrumentation-user-interaction"},
                        "spans": spans,
                    }
                ],
            }
        ]
    }


@pytest.fixture
async def platform(chdb_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Store]]:
    database = f"pipe_{uuid.uuid4().hex[:8]}"
    store_settings = StoreSettings(
        clickhouse_url=f"chdb://{chdb_path}", clickhouse_database=database
    )
    store = open_store(store_settings, create_database=True)
    migrate(store, store_settings, dedup_window=1000)
    bus = InProcessBus()
    await bus.ensure_topics(pipeline_topic_specs(2, 1, 8 * 1024 * 1024))
    ingest = create_ingest(IngestSettings(), bus=bus)
    enrich = create_enrich(
        EnrichSettings(enrich_signal_settle_s=0.5, frustration_client_grace_ms=0), bus=bus
    )
    writer = create_writer(
        WriterSettings(
            writer_batch_age_s=0.1,
            clickhouse_url=f"chdb://{chdb_path}",
            clickhouse_database=database,
        ),
        bus=bus,
        store=store,
    )
    async with AsyncExitStack() as stack:
        for app in (enrich, writer):
            await stack.enter_async_context(app.router.lifespan_context(app))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=ingest, client=("203.0.113.7", 5000)),
            base_url="http://ingest",
        )
        await stack.enter_async_context(client)
        yield client, store
    store.command(f"DROP DATABASE IF EXISTS {database}")
    store.close()


SPANS_OF_SESSION = (
    "SELECT count() FROM otel_traces "
    "WHERE ResourceAttributes['rum.sessionId'] = {session:String} AND SpanName = {name:String}"
)
ATTRIBUTES_OF = (
    "SELECT SpanAttributes AS a FROM otel_traces "
    "WHERE ResourceAttributes['rum.sessionId'] = {session:String} AND SpanName = {name:String}"
)


async def wait_spans(
    store: Store, session: str, name: str, expected: int, timeout_s: float = 20.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        got = store.query_rows(SPANS_OF_SESSION, {"session": session, "name": name})[0][0]
        if got == expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}: {got} spans, expected {expected}")
        await asyncio.sleep(0.1)


def attributes_of(store: Store, session: str, name: str) -> dict[str, str]:
    rows = store.query(ATTRIBUTES_OF, {"session": session, "name": name})
    return dict(rows[0]["a"])


async def test_clicks_become_enriched_spans_and_one_rage_click(
    platform: tuple[httpx.AsyncClient, Store],
) -> None:
    client, store = platform
    session = uuid.uuid4().hex
    start = time.time_ns() - 10_000_000_000
    page = "https://portal.example.test/orders/1042"
    spans = [span("documentLoad", start, 1, location_href=page)]
    for i in range(6):  # six physical clicks in 1.5 s, each sent twice as the SDK does
        at = start + 1_000_000_000 + i * 300_000_000
        for copy in range(2):
            spans.append(
                span(
                    "click",
                    at,
                    10 + 2 * i + copy,
                    target_xpath='//*[@id="rage"]',
                    target_element="BUTTON",
                    location_href=page,
                )
            )
    spans.append(span("visibility", start + 8_000_000_000, 99, location_href=page))
    response = await client.post(
        "/v1/traces",
        json=trace_body(session, spans),
        headers={"user-agent": CHROME_UA, "accept-language": "en-US,en;q=0.9"},
    )
    assert response.status_code == 200, response.text

    await wait_spans(store, session, "click", 12)
    await wait_spans(store, session, "rage_click", 1)
    rage = attributes_of(store, session, "rage_click")
    assert rage["target_xpath"] == '//*[@id="rage"]'
    assert rage["frustration.count"] == "6"
    visitor = attributes_of(store, session, "documentLoad")
    assert visitor["visitor.browser"] == "Chrome"
    assert visitor["visitor.os"] == "macOS"
    assert visitor["visitor.ip"] == "203.0.x.x"  # masked like 73.162.x.x
    assert visitor["visitor.language"] == "en-US"
