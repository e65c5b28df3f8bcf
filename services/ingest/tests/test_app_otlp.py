"""The ingest app on the in-process bus: every route and encoding lands on its topic
keyed by session, bad requests get their status and message and lose nothing else."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import ingest_samples as sample
import pytest
from google.rpc import status_pb2
from ingest_testkit import API_KEY, decoded, drain, settings_for
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from prometheus_client.parser import text_string_to_metric_families

from exos_common.bus import Bus, BusUnavailable, OutgoingRecord, create_bus
from exos_common.bus.memory import InProcessBus
from exos_common.messages import LogRecord, ReplayChunk, SpanRecord
from exos_common.topics import Topic, pipeline_topic_specs
from exos_ingest import app as app_module
from exos_ingest.api.otlp import METRICS_NOT_STORED
from exos_ingest.app import create_app

JSON = {"content-type": "application/json", "authorization": API_KEY}
PROTOBUF = {"content-type": "application/x-protobuf", "authorization": API_KEY}
TOPICS = (Topic.SPANS_RAW, Topic.LOGS_RAW, Topic.REPLAY_RAW)


async def on_topics(bus: Bus) -> dict[str, list[Any]]:
    return {str(topic): await drain(bus, topic) for topic in TOPICS}


async def counts(bus: Bus) -> dict[str, int]:
    """Pipeline records per topic (a bus message may carry a batch of them)."""
    return {topic: len(decoded(records)) for topic, records in (await on_topics(bus)).items()}


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample_ in family.samples:
            if sample_.name == name and all(sample_.labels.get(k) == v for k, v in labels.items()):
                return float(sample_.value)
    return 0.0


async def post_valid(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/traces", content=sample.json_bytes(sample.hyperdx_traces()), headers=JSON
    )
    assert response.status_code == 200, response.text


# ---- happy paths ------------------------------------------------------------------------


async def test_hyperdx_json_traces_land_on_spans_and_logs_keyed_by_session(
    client: httpx.AsyncClient, memory_bus: Bus
) -> None:
    response = await client.post(
        "/v1/traces",
        content=sample.json_bytes(sample.hyperdx_traces()),
        headers={
            **JSON,
            "user-agent": "Mozilla/5.0 Chrome/131",
            "accept-language": "de-DE",
            "referer": "https://shop.example/cart",
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}  # full success: partial_success left unset

    topics = await on_topics(memory_bus)
    spans, logs = topics[Topic.SPANS_RAW], topics[Topic.LOGS_RAW]
    assert {r.key for r in spans + logs} == {sample.SESSION.encode()}
    assert [r.name for r in decoded(spans)] == ["click", "webvitals", "console.error"]  # type: ignore[union-attr]
    console_log, error_log = decoded(logs)
    assert isinstance(console_log, LogRecord) and isinstance(error_log, LogRecord)
    assert (console_log.severity_text, console_log.body) == ("info", 'cart loaded {"items":3}')
    assert (error_log.severity_text, error_log.body) == ("error", "cart.items is undefined")
    client_context = console_log.client
    assert (client_context.ip, client_context.user_agent) == (
        "203.0.113.7",
        "Mozilla/5.0 Chrome/131",
    )
    assert (client_context.accept_language, client_context.referer) == (
        "de-DE",
        "https://shop.example/cart",
    )
    assert client_context.received_at_ns > 0
    assert topics[Topic.REPLAY_RAW] == []


async def test_protobuf_traces_answer_protobuf(client: httpx.AsyncClient, memory_bus: Bus) -> None:
    body = sample.protobuf_traces(sample.hyperdx_traces()).SerializeToString()
    response = await client.post("/v1/traces", content=body, headers=PROTOBUF)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    parsed = ExportTraceServiceResponse.FromString(response.content)
    assert not parsed.HasField("partial_success")
    assert await counts(memory_bus) == {"otlp.spans.raw": 3, "otlp.logs.raw": 2, "replay.raw": 0}


async def test_gzipped_protobuf_replay_lands_on_replay_raw(
    client: httpx.AsyncClient, memory_bus: Bus
) -> None:
    body = gzip.compress(sample.replay_log_request().SerializeToString())
    response = await client.post(
        "/v1/logs", content=body, headers={**PROTOBUF, "content-encoding": "gzip"}
    )
    assert response.status_code == 200
    assert ExportLogsServiceResponse.FromString(response.content) == ExportLogsServiceResponse()
    replay = (await on_topics(memory_bus))[Topic.REPLAY_RAW]
    assert [r.key for r in replay] == [sample.SESSION.encode()] * 2
    assert len({r.partition for r in replay}) == 1  # one session, one partition, in order
    chunks = decoded(replay)
    assert all(isinstance(c, ReplayChunk) for c in chunks)
    assert [json.loads(c.body)["type"] for c in chunks] == [4, 2]


async def test_json_logs_deflated_land_on_logs_raw(
    client: httpx.AsyncClient, memory_bus: Bus
) -> None:
    document = {
        "resourceLogs": [
            {
                "resource": sample.browser_resource(),
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": "1764307200000000000",
                                "severityNumber": 9,
                                "severityText": "info",
                                "body": {"stringValue": "checkout started"},
                                "traceId": sample.TRACE,
                                "spanId": sample.CLICK_SPAN,
                            }
                        ]
                    }
                ],
            }
        ]
    }
    response = await client.post(
        "/v1/logs",
        content=zlib.compress(sample.json_bytes(document)),
        headers={**JSON, "content-encoding": "deflate"},
    )
    assert response.status_code == 200
    (log,) = decoded((await on_topics(memory_bus))[Topic.LOGS_RAW])
    assert isinstance(log, LogRecord) and not isinstance(log, ReplayChunk)
    assert (log.body, log.trace_id, log.session_id) == (
        "checkout started",
        sample.TRACE.lower(),
        sample.SESSION,
    )


async def test_metrics_are_refused_in_partial_success_not_dropped_silently(
    client: httpx.AsyncClient, memory_bus: Bus
) -> None:
    document = {
        "resourceMetrics": [
            {
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "jobs",
                                "sum": {"dataPoints": [{"asInt": "3"}, {"asInt": "4"}]},
                            }
                        ]
                    }
                ]
            }
        ]
    }
    as_json = await client.post("/v1/metrics", content=sample.json_bytes(document), headers=JSON)
    assert (as_json.status_code, as_json.json()) == (
        200,
        {"partialSuccess": {"rejectedDataPoints": "2", "errorMessage": METRICS_NOT_STORED}},
    )
    one_point = ExportMetricsServiceRequest()
    gauge = one_point.resource_metrics.add().scope_metrics.add().metrics.add()
    gauge.name = "queue_depth"
    gauge.gauge.data_points.add().as_int = 7
    as_protobuf = await client.post(
        "/v1/metrics", content=one_point.SerializeToString(), headers=PROTOBUF
    )
    answer = ExportMetricsServiceResponse.FromString(as_protobuf.content)
    assert as_protobuf.status_code == 200
    assert (answer.partial_success.rejected_data_points, answer.partial_success.error_message) == (
        1,
        METRICS_NOT_STORED,
    )
    empty = await client.post(
        "/v1/metrics", content=ExportMetricsServiceRequest().SerializeToString(), headers=PROTOBUF
    )
    assert (empty.status_code, empty.content) == (200, b"")
    assert await counts(memory_bus) == {"otlp.spans.raw": 0, "otlp.logs.raw": 0, "replay.raw": 0}
    text = (await client.get("/metrics")).text
    assert metric(text, "exos_ingest_records_accepted_total", signal="metrics") == 0
    dropped = metric(
        text, "exos_ingest_records_dropped_total", signal="metrics", reason="metrics_not_stored"
    )
    assert dropped == 3


async def test_bearer_and_second_key_are_accepted(client: httpx.AsyncClient) -> None:
    body = sample.json_bytes(sample.hyperdx_traces())
    for authorization in (f"Bearer {API_KEY}", "second-key"):
        headers = {**JSON, "authorization": authorization}
        assert (await client.post("/v1/traces", content=body, headers=headers)).status_code == 200


async def test_open_ingest_without_keys(make_client: Any) -> None:
    client = await make_client(ingest_api_keys=None)
    response = await client.post(
        "/v1/traces",
        content=sample.json_bytes(sample.hyperdx_traces()),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200


async def test_a_3_mib_rrweb_full_snapshot_chunk_lands(
    client: httpx.AsyncClient, memory_bus: Bus
) -> None:
    snapshot_json = '{"type":2,"data":{"node":"' + "x" * (3 * 1024 * 1024) + '"}}'
    request = sample.replay_log_request(events=[sample.RRWEB_SNAPSHOT], big_body=snapshot_json)
    response = await client.post("/v1/logs", content=request.SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 200
    (chunk,) = decoded((await on_topics(memory_bus))[Topic.REPLAY_RAW])
    assert chunk.body == snapshot_json


# ---- partial success ----------------------------------------------------------------------


def _mixed_traces() -> dict[str, Any]:
    document = sample.hyperdx_traces()
    no_session = sample.hyperdx_traces(session_id=None)["resourceSpans"][0]
    no_session["scopeSpans"] = no_session["scopeSpans"][:2]  # click + webvitals: 2 spans
    server = {
        "resource": {"attributes": [sample.s("service.name", "cart-api")]},
        "scopeSpans": [
            {
                "spans": [
                    {
                        "traceId": sample.ERROR_TRACE,
                        "spanId": "3333333333333333",
                        "name": "GET /cart",
                        "kind": 2,
                        "startTimeUnixNano": "1764307205000000000",
                    }
                ]
            }
        ],
    }
    document["resourceSpans"] += [no_session, server]
    return document


async def test_spans_without_session_are_rejected_the_rest_lands(
    client: httpx.AsyncClient, memory_bus: Bus
) -> None:
    response = await client.post(
        "/v1/traces", content=sample.json_bytes(_mixed_traces()), headers=JSON
    )
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "2"  # int64 is a string in proto3 JSON
    assert partial["errorMessage"].startswith(
        "2 of 7 spans rejected: 2 browser resource (rum.* attributes) without rum.sessionId"
    )
    topics = await on_topics(memory_bus)
    by_key = {r.key: decoded([r]) for r in topics[Topic.SPANS_RAW]}
    # One message per key: the session's three spans; the server-side span has no
    # session, so it is keyed by its trace id with its session id left empty.
    assert sorted(r.key for r in topics[Topic.SPANS_RAW]) == sorted(
        [sample.SESSION.encode(), sample.ERROR_TRACE.encode()]
    )
    assert len(by_key[sample.SESSION.encode()]) == 3
    (server_span,) = by_key[sample.ERROR_TRACE.encode()]
    assert isinstance(server_span, SpanRecord)
    assert (server_span.session_id, server_span.service_name) == ("", "cart-api")
    assert len(decoded(topics[Topic.LOGS_RAW])) == 2

    text = (await client.get("/metrics")).text
    assert metric(text, "exos_ingest_records_accepted_total", signal="traces") == 5
    assert (
        metric(text, "exos_ingest_records_dropped_total", signal="traces", reason="no_session") == 2
    )


async def test_partial_success_in_protobuf_for_logs(
    client: httpx.AsyncClient, memory_bus: Bus
) -> None:
    request = sample.replay_log_request()
    orphan = request.resource_logs.add()
    orphan.CopyFrom(request.resource_logs[0])
    del orphan.resource.attributes[-1]  # drop rum.sessionId, keep the other rum.* keys
    response = await client.post("/v1/logs", content=request.SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 200
    parsed = ExportLogsServiceResponse.FromString(response.content)
    assert parsed.partial_success.rejected_log_records == 2
    assert "without rum.sessionId" in parsed.partial_success.error_message
    assert len((await on_topics(memory_bus))[Topic.REPLAY_RAW]) == 2


async def test_a_record_over_the_bus_limit_is_rejected_alone(
    make_client: Any, memory_bus: Bus
) -> None:
    client = await make_client(
        ingest_max_body_bytes=16 * 1024 * 1024, ingest_max_decompressed_bytes=32 * 1024 * 1024
    )
    request = sample.replay_log_request(events=[sample.RRWEB_META, sample.RRWEB_SNAPSHOT])
    request.resource_logs[0].scope_logs[0].log_records[1].body.string_value = "y" * (9 << 20)
    response = await client.post(
        "/v1/logs",
        content=gzip.compress(request.SerializeToString(), compresslevel=1),
        headers={**PROTOBUF, "content-encoding": "gzip"},
    )
    parsed = ExportLogsServiceResponse.FromString(response.content)
    assert parsed.partial_success.rejected_log_records == 1
    assert "EXOS_KAFKA_MAX_MESSAGE_BYTES" in parsed.partial_success.error_message
    assert len((await on_topics(memory_bus))[Topic.REPLAY_RAW]) == 1


# ---- refused requests: status, message, and the next request still lands -----------------


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 1 << 20):
        yield data[start : start + (1 << 20)]


def _refusals() -> list[Any]:
    big = b"\x00" * (5 * 1024 * 1024)
    bomb = gzip.compress(bytes(64 * 1024 * 1024))
    valid_json = sample.json_bytes(sample.hyperdx_traces())
    return [
        pytest.param(
            {"content": b"\x0a\xff\xff\xff\xff\x0f garbage", "headers": PROTOBUF},
            400,
            "body is not a valid protobuf ExportTraceServiceRequest",
            id="bad-protobuf",
        ),
        pytest.param(
            {"content": b'{"resourceSpans": [', "headers": JSON},
            400,
            "body is not valid JSON",
            id="bad-json",
        ),
        pytest.param(
            {"content": valid_json, "headers": {**JSON, "content-type": "text/plain"}},
            415,
            "unsupported Content-Type 'text/plain'",
            id="wrong-content-type",
        ),
        pytest.param(
            {"content": valid_json, "headers": {**JSON, "content-encoding": "br"}},
            415,
            "unsupported Content-Encoding 'br'",
            id="unsupported-coding",
        ),
        pytest.param(
            {
                "content": gzip.compress(valid_json)[:40],
                "headers": {**JSON, "content-encoding": "gzip"},
            },
            400,
            "truncated gzip body",
            id="truncated-gzip",
        ),
        pytest.param(
            {"content": bomb, "headers": {**JSON, "content-encoding": "gzip"}},
            413,
            "decompressed body exceeds 6291456 bytes",
            id="gzip-bomb",
        ),
        pytest.param(
            {"content": big, "headers": PROTOBUF},
            413,
            "exceeds 4194304 bytes (EXOS_INGEST_MAX_BODY_BYTES)",
            id="oversized-body",
        ),
        pytest.param(
            {"content": "chunked", "headers": PROTOBUF},
            413,
            "exceeds 4194304 bytes (EXOS_INGEST_MAX_BODY_BYTES)",
            id="oversized-chunked-body",
        ),
        pytest.param(
            {"content": valid_json, "headers": {**JSON, "authorization": "wrong"}},
            401,
            "missing or unknown API key",
            id="bad-key",
        ),
        pytest.param(
            {"content": valid_json, "headers": {"content-type": "application/json"}},
            401,
            "missing or unknown API key",
            id="missing-key",
        ),
    ]


@pytest.mark.parametrize(("request_", "status", "message"), _refusals())
async def test_refused_requests_lose_nothing_else(
    client: httpx.AsyncClient,
    memory_bus: Bus,
    request_: dict[str, Any],
    status: int,
    message: str,
) -> None:
    content = request_["content"]
    if content == "chunked":  # no Content-Length: the limit must hold while streaming
        content = _chunks(b"\x00" * (5 * 1024 * 1024))
    response = await client.post("/v1/traces", content=content, headers=request_["headers"])

    assert response.status_code == status
    if response.headers["content-type"] == "application/x-protobuf":
        error = status_pb2.Status.FromString(response.content)
        assert error.message.startswith(message) or message in error.message
    else:
        assert response.headers["content-type"] == "application/json"
        assert message in response.json()["message"]
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    assert await counts(memory_bus) == {"otlp.spans.raw": 0, "otlp.logs.raw": 0, "replay.raw": 0}

    await post_valid(client)
    assert (await counts(memory_bus))["otlp.spans.raw"] == 3


async def test_json_errors_are_json_status_messages(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/logs", content=b"[1]", headers=JSON)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 3  # google.rpc.Code.INVALID_ARGUMENT
    assert body["message"] == "ExportLogsServiceRequest must be a JSON object"
    assert body["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"


# ---- the bus does not acknowledge -> 503 ---------------------------------------------------


class UnavailableBus(InProcessBus):
    async def publish_many(self, records: Sequence[OutgoingRecord]) -> list[Any]:
        raise BusUnavailable("Kafka did not acknowledge: broker down")


async def test_bus_unavailable_is_503_with_retry_after(make_client: Any) -> None:
    bus = UnavailableBus()
    await bus.ensure_topics(pipeline_topic_specs(3, 1, 8 * 1024 * 1024))
    client = await make_client(bus=bus, ingest_retry_after_s=7)
    for headers, body in (
        (JSON, sample.json_bytes(sample.hyperdx_traces())),
        (PROTOBUF, sample.protobuf_traces(sample.hyperdx_traces()).SerializeToString()),
    ):
        response = await client.post("/v1/traces", content=body, headers=headers)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "7"
        if headers is PROTOBUF:
            error = status_pb2.Status.FromString(response.content)
            assert error.code == 14  # UNAVAILABLE
            assert "nothing was accepted" in error.message
        else:
            assert response.json()["details"][0]["retryDelay"] == "7s"
    assert await counts(bus) == {"otlp.spans.raw": 0, "otlp.logs.raw": 0, "replay.raw": 0}
    text = (await client.get("/metrics")).text
    assert metric(text, "exos_ingest_records_accepted_total", signal="traces") == 0
    assert metric(text, "exos_ingest_errors_total", signal="traces", reason="bus_unavailable") == 2
    assert (
        metric(text, "exos_ingest_requests_total", signal="traces", encoding="json", status="503")
        == 1
    )


# ---- CORS, health, metrics, other routes ----------------------------------------------------


async def test_cors_preflight_passes_for_the_sdk_headers(client: httpx.AsyncClient) -> None:
    for path, asked in (
        ("/v1/traces", "authorization,content-type"),
        ("/v1/logs", "authorization,content-encoding,content-type"),
    ):
        response = await client.options(
            path,
            headers={
                "origin": "http://127.0.0.1:5173",
                "access-control-request-method": "POST",
                "access-control-request-headers": asked,
            },
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
        allowed = response.headers["access-control-allow-headers"].lower()
        assert {"authorization", "content-type", "content-encoding"} <= set(allowed.split(", "))
        assert "POST" in response.headers["access-control-allow-methods"]
        assert response.headers["access-control-max-age"] == "7200"

    posted = await client.post(
        "/v1/traces",
        content=sample.json_bytes(sample.hyperdx_traces()),
        headers={**JSON, "origin": "http://127.0.0.1:5173"},
    )
    assert posted.headers["access-control-allow-origin"] == "*"
    assert "retry-after" in posted.headers["access-control-expose-headers"].lower()


async def test_cors_origins_can_be_restricted(make_client: Any) -> None:
    client = await make_client(ingest_cors_origins="https://shop.example")
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization",
    }
    allowed = await client.options(
        "/v1/traces", headers={"origin": "https://shop.example", **preflight}
    )
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    refused = await client.options(
        "/v1/traces", headers={"origin": "https://evil.example", **preflight}
    )
    assert refused.status_code == 400


async def test_health_readiness_metrics_and_other_routes(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()["checks"]) == (200, {"kafka": "ok"})
    await post_valid(client)
    await client.post("/v1/traces", content=b"{", headers=JSON)
    text = (await client.get("/metrics")).text
    assert (
        metric(text, "exos_ingest_requests_total", signal="traces", encoding="json", status="200")
        == 1
    )
    assert metric(text, "exos_ingest_errors_total", signal="traces", reason="bad_json") == 1
    assert metric(text, "exos_ingest_records_published_total", topic="otlp.logs.raw") == 2
    assert metric(text, "exos_ingest_publish_seconds_count") == 1
    assert metric(text, "exos_ingest_request_bytes_count", signal="traces") == 2
    missing = await client.get("/v1/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "http_404"
    assert (await client.get("/v1/traces")).status_code == 405
    schema = (await client.get("/openapi.json")).json()
    assert set(schema["paths"]["/v1/logs"]["post"]["requestBody"]["content"]) == {
        "application/x-protobuf",
        "application/json",
    }


async def test_app_owning_a_bus_starts_and_stops_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a bus given, the app builds one from the settings and runs its lifespan
    (the Kafka bus is swapped for an in-process one here; the Kafka tests run the real)."""
    made: list[Bus] = []

    def fake_create_bus(kind: str, settings: Any) -> Bus:
        assert kind == "kafka"
        made.append(create_bus("memory"))
        return made[-1]

    monkeypatch.setattr(app_module, "create_bus", fake_create_bus)
    app = create_app(settings_for(kafka_topic_partitions=2))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await post_valid(client)
    assert (await counts(made[0]))["otlp.spans.raw"] == 3  # topics were created by the app
