"""The official OpenTelemetry Python SDK exports traces and logs (OTLP/HTTP protobuf,
gzip) to ingest served by uvicorn on a free port; the records land on the topics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from ingest_testkit import API_KEY, decoded, drain, settings_for
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from exos_common.bus import Bus
from exos_common.messages import LogRecord, SpanRecord
from exos_common.topics import Topic
from exos_ingest.app import create_app

# A minute ago by this machine's clock, which the app (real clock here) judges by.
LOG_TIME_NS = time.time_ns() - 60 * 1_000_000_000


@pytest.fixture
async def ingest_url(memory_bus: Bus) -> AsyncIterator[str]:
    """Ingest behind a real uvicorn socket, served from the test's own event loop (the
    SDK's blocking exporter runs in a worker thread)."""
    app = create_app(settings_for(), bus=memory_bus)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        assert not serving.done(), "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving


def export_with_sdk(url: str) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {API_KEY}"}
    resource = Resource.create(
        {
            "service.name": "checkout-api",
            "rum.sessionId": "sdk-session-1",
            "deployment.environment": "test",
        }
    )
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(
            OTLPSpanExporter(
                endpoint=f"{url}/v1/traces", headers=headers, compression=Compression.Gzip
            )
        )
    )
    tracer = tracer_provider.get_tracer("checkout", "1.2.3")
    with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as parent:
        parent.set_attribute("http.status_code", 201)
        parent.set_attribute("cart.total", 99.0)
        with tracer.start_as_current_span("charge card") as child:
            child.add_event("charged", {"amount": 99.5})
            ids = {
                "trace": format(child.get_span_context().trace_id, "032x"),
                "parent": format(parent.get_span_context().span_id, "016x"),
            }
    tracer_provider.shutdown()

    logger_provider = LoggerProvider(resource=Resource.create({"service.name": "worker"}))
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{url}/v1/logs", headers=headers))
    )
    logger_provider.get_logger("jobs").emit(
        timestamp=LOG_TIME_NS,
        severity_text="WARN",
        body="queue is slow",
        attributes={"queue.depth": 12},
    )
    logger_provider.shutdown()
    return ids


async def test_official_sdk_exports_land_on_the_topics(ingest_url: str, memory_bus: Bus) -> None:
    ids = await asyncio.to_thread(export_with_sdk, ingest_url)

    spans = await drain(memory_bus, Topic.SPANS_RAW)
    assert {r.key for r in spans} == {b"sdk-session-1"}
    by_name = {s.name: s for s in decoded(spans) if isinstance(s, SpanRecord)}
    server, charge = by_name["POST /checkout"], by_name["charge card"]
    assert (server.kind, server.scope_name, server.scope_version) == ("Server", "checkout", "1.2.3")
    assert server.attributes == {"http.status_code": "201", "cart.total": "99"}
    assert server.resource_attributes["telemetry.sdk.language"] == "python"
    assert (charge.trace_id, charge.parent_span_id) == (ids["trace"], ids["parent"])
    assert charge.events[0].name == "charged"
    assert charge.events[0].attributes == {"amount": "99.5"}
    assert server.client.ip == "127.0.0.1"
    assert server.client.user_agent.startswith("OTel-OTLP-Exporter-Python")

    (log_message,) = await drain(memory_bus, Topic.LOGS_RAW)
    log = decoded([log_message])[0]
    assert isinstance(log, LogRecord)
    # No browser session: accepted with an empty session id, keyed by a request key
    # (the log has no trace context either).
    assert (log.session_id, log.body, log.severity_text) == ("", "queue is slow", "WARN")
    assert log.attributes == {"queue.depth": "12"}
    assert log.timestamp_ns == LOG_TIME_NS
    assert log_message.key
