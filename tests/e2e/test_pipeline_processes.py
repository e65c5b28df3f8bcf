"""ingest, enrich and writer as separate processes over a real Kafka broker and the
embedded ClickHouse server. SIGKILL the writer, then enrich, mid-stream: afterwards every
table holds exactly the events that were acknowledged, each once."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from exos_common.store import Store

from .conftest import Platform

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse_server]

SPANS_PER_REQUEST = 50
SESSIONS = 12


def attr(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def resource(session: str) -> list[dict[str, Any]]:
    return [attr("service.name", "e2e-portal"), attr("rum.sessionId", session)]


def traces_request(run: str, request_no: int) -> dict[str, Any]:
    """50 HTTP spans and 2 console.log spans (which ingest turns into log records)."""
    session = f"{run}-{request_no % SESSIONS}"
    now = time.time_ns()
    spans = [
        {
            # OTLP forbids all-zero ids (ingest rejects them): count from 1.
            "traceId": f"{request_no + 1:016x}{i + 1:016x}",
            "spanId": f"{request_no + 1:08x}{i + 1:08x}",
            "name": "HTTP POST",
            "kind": 3,
            "startTimeUnixNano": str(now + i),
            "endTimeUnixNano": str(now + i + 5_000_000),
            "attributes": [attr("http.url", "https://api.example.test/orders")],
        }
        for i in range(SPANS_PER_REQUEST)
    ]
    spans += [
        {
            "traceId": f"{request_no:016x}{1000 + i:016x}",
            "spanId": f"{request_no:08x}{1000 + i:08x}",
            "name": "console.log",
            "startTimeUnixNano": str(now + 100 + i),
            "endTimeUnixNano": str(now + 100 + i),
            "attributes": [
                attr("component", "console"),
                attr("level", "log"),
                attr("message", f"saved {request_no}-{i}"),
            ],
        }
        for i in range(2)
    ]
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": resource(session)},
                "scopeSpans": [{"scope": {"name": "e2e"}, "spans": spans}],
            }
        ]
    }


def replay_request(run: str, request_no: int) -> bytes:
    """Five rrweb events of one session as the HyperDX recorder sends them."""
    message = ExportLogsServiceRequest()
    resource_logs = message.resource_logs.add()
    resource_logs.resource.attributes.extend(
        KeyValue(key=item["key"], value=AnyValue(string_value=item["value"]["stringValue"]))
        for item in resource(f"{run}-{request_no % SESSIONS}")
    )
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "rum.rr-web"
    now = time.time_ns()
    for i in range(5):
        record = scope_logs.log_records.add()
        record.time_unix_nano = now + i * 1_000_000
        event = {"type": 3, "data": {"source": 1}, "timestamp": now // 10**6 + i}
        record.body.string_value = json.dumps(event)
        numbers = {"rr-web.event": i + 1, "rr-web.chunk": 1, "rr-web.total-chunks": 1}
        for key, value in numbers.items():
            record.attributes.add(key=key, value=AnyValue(double_value=float(value)))
    return gzip.compress(message.SerializeToString())


def send(platform: Platform, run: str, first: int, count: int) -> None:
    headers = {"authorization": platform.api_key}
    with httpx.Client(base_url=platform.ingest.url, headers=headers, timeout=30) as client:
        for n in range(first, first + count):
            traces = client.post("/v1/traces", json=traces_request(run, n))
            assert traces.status_code == 200, traces.text
            assert not traces.json().get("partialSuccess"), traces.text
            replay = client.post(
                "/v1/logs",
                content=replay_request(run, n),
                headers={"content-type": "application/x-protobuf", "content-encoding": "gzip"},
            )
            assert replay.status_code == 200, replay.text


def counts(store: Store, run: str) -> tuple[int, int, int]:
    of_run = "startsWith(ResourceAttributes['rum.sessionId'], {run:String})"
    return tuple(  # type: ignore[return-value]
        int(store.query_rows(f"SELECT count() FROM {table} WHERE {of_run}", {"run": run})[0][0])
        for table in ("otel_traces", "otel_logs", "hyperdx_sessions")
    )


def wait_until(condition: Any, timeout_s: float, what: Any) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what() if callable(what) else what)
        time.sleep(0.2)


def metric(text: str, name: str) -> float:
    """Sum of every sample of `name` (all label sets) in a Prometheus exposition."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def test_killed_writer_and_enrich_lose_and_double_nothing(
    platform: Platform, e2e_store: Store
) -> None:
    run = uuid.uuid4().hex[:8]
    requests = 60

    send(platform, run, 0, 20)
    wait_until(lambda: counts(e2e_store, run)[0] > 0, 60, "first rows")
    platform.writer.kill()
    send(platform, run, 20, 20)
    platform.writer.start()

    platform.enrich.kill()
    send(platform, run, 40, 20)
    platform.enrich.start()

    expected = (requests * SPANS_PER_REQUEST, requests * 2, requests * 5)
    wait_until(
        lambda: counts(e2e_store, run) == expected,
        120,
        lambda: f"expected {expected}, stored {counts(e2e_store, run)}",
    )
    time.sleep(2)  # anything still in flight would show up now
    assert counts(e2e_store, run) == expected
    distinct_spans = e2e_store.query_rows(
        "SELECT uniqExact(SpanId) FROM otel_traces "
        "WHERE startsWith(ResourceAttributes['rum.sessionId'], {run:String})",
        {"run": run},
    )
    assert distinct_spans == [(expected[0],)]

    # One bad request: the error counter moves too.
    bad = httpx.post(
        f"{platform.ingest.url}/v1/traces",
        content=b"{not json",
        headers={"authorization": platform.api_key, "content-type": "application/json"},
    )
    assert bad.status_code == 400
    ingest, enrich, writer = (s.metrics() for s in platform.services)
    assert metric(ingest, "exos_ingest_requests_total") >= requests * 2 + 1
    assert metric(ingest, "exos_ingest_records_accepted_total") >= requests * (52 + 5)
    assert metric(ingest, "exos_ingest_errors_total") >= 1
    assert metric(enrich, "exos_consumer_records_total") > 0
    assert metric(enrich, "exos_consumer_commits_total") > 0
    assert metric(writer, "exos_batch_rows_count") > 0
    assert metric(writer, "exos_consumer_records_total") > 0
    # Lag is reported per partition, and everything was consumed.
    for service_metrics in (enrich, writer):
        assert "exos_consumer_lag{" in service_metrics
