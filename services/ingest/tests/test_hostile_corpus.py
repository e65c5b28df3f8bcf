"""One hand-written request per malformed class, through the app on the in-process bus:
the expected status, partial_success counts, what lands on the topics, and the
metrics that count it. The app's clock stands at NOW (SAMPLE_NOW_NS)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import ingest_samples as sample
import pytest
from ingest_testkit import API_KEY, SAMPLE_NOW_NS, AppClient, decoded, drain
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from prometheus_client.parser import text_string_to_metric_families

from exos_common.bus import Bus
from exos_common.codec import PipelineRecord
from exos_common.topics import Topic

JSON = {"content-type": "application/json", "authorization": API_KEY}
PROTOBUF = {"content-type": "application/x-protobuf", "authorization": API_KEY}
NOW = SAMPLE_NOW_NS
S = 1_000_000_000
DAY = 86_400 * S
TRACE_HEX, SPAN_HEX = "0102030405060708090a0b0c0d0e0f10", "0102030405060708"


def span(**fields: Any) -> dict[str, Any]:
    base = {"traceId": TRACE_HEX, "spanId": SPAN_HEX, "name": "s", "startTimeUnixNano": str(NOW)}
    return {**base, **fields}


def traces(*spans: dict[str, Any], session: str | None = None) -> bytes:
    attributes = [sample.s("service.name", "web")]
    if session:
        attributes.append(sample.s("rum.sessionId", session))
    resource = {"attributes": attributes}
    return json.dumps(
        {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": list(spans)}]}]}
    ).encode()


def log(**fields: Any) -> dict[str, Any]:
    return {"timeUnixNano": str(NOW), "body": {"stringValue": "b"}, **fields}


def logs(*records: dict[str, Any], session: str | None = None) -> bytes:
    attributes = [sample.s("service.name", "web")]
    if session:
        attributes.append(sample.s("rum.sessionId", session))
    resource = {"attributes": attributes}
    return json.dumps(
        {"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": list(records)}]}]}
    ).encode()


def kvlist(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(depth):
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    return value


async def landed(bus: Bus) -> list[PipelineRecord]:
    found: list[PipelineRecord] = []
    for topic in (Topic.SPANS_RAW, Topic.LOGS_RAW, Topic.REPLAY_RAW):
        found += decoded(await drain(bus, topic))
    return found


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for item in family.samples:
            if item.name == name and all(item.labels.get(k) == v for k, v in labels.items()):
                return float(item.value)
    return 0.0


Check = Callable[[list[PipelineRecord]], bool]

# (name, path, body, expected status, expected rejected count, check on what landed)
CASES: list[tuple[str, str, bytes, int, int, Check]] = [
    (
        "severity 300 becomes 0",
        "/v1/logs",
        logs(log(severityNumber=300, severityText="WEIRD")),
        200,
        0,
        lambda r: [(x.severity_number, x.severity_text) for x in r] == [(0, "WEIRD")],
    ),
    (
        "span start at 2^63 clamped to receive time",
        "/v1/traces",
        traces(span(startTimeUnixNano=str(1 << 63), endTimeUnixNano=str((1 << 64) - 1))),
        200,
        0,
        lambda r: [(x.timestamp_ns, x.duration_ns) for x in r] == [(NOW, 0)],
    ),
    (
        "log time 2^64-1 clamped",
        "/v1/logs",
        logs(log(timeUnixNano=str((1 << 64) - 1))),
        200,
        0,
        lambda r: [x.timestamp_ns for x in r] == [NOW],
    ),
    (
        "trace id of 15 bytes rejected",
        "/v1/traces",
        traces(span(traceId="01" * 15), span()),
        200,
        1,
        lambda r: len(r) == 1,
    ),
    (
        "all-zero span id rejected",
        "/v1/traces",
        traces(span(spanId="00" * 8)),
        200,
        1,
        lambda r: r == [],
    ),
    (
        "non-hex trace id rejected alone",
        "/v1/traces",
        traces(span(traceId="not-hex!"), span()),
        200,
        1,
        lambda r: len(r) == 1,
    ),
    (
        "log span id of 3 bytes rejected",
        "/v1/logs",
        logs(log(spanId="abcdef"), log()),
        200,
        1,
        lambda r: len(r) == 1,
    ),
    (
        "span kind -5 and status 99 stored as unspecified",
        "/v1/traces",
        traces(span(kind=-5, status={"code": 99})),
        200,
        0,
        lambda r: [(x.kind, x.status_code) for x in r] == [("Unspecified", "Unset")],
    ),
    (
        "browser clock 40 days behind shifted to now",
        "/v1/traces",
        traces(span(startTimeUnixNano=str(NOW - 40 * DAY)), session="late"),
        200,
        0,
        lambda r: [x.timestamp_ns for x in r] == [NOW],
    ),
    (
        "browser clock 3 days ahead shifted to now",
        "/v1/logs",
        logs(log(timeUnixNano=str(NOW + 3 * DAY)), session="early"),
        200,
        0,
        lambda r: [x.timestamp_ns for x in r] == [NOW],
    ),
    (
        "server span 40 days old rejected as expired",
        "/v1/traces",
        traces(span(startTimeUnixNano=str(NOW - 40 * DAY)), span()),
        200,
        1,
        lambda r: [x.timestamp_ns for x in r] == [NOW],
    ),
    (
        "kvlist 30 deep stored as empty",
        "/v1/logs",
        logs(log(attributes=[{"key": "deep", "value": kvlist(30)}])),
        200,
        0,
        lambda r: r[0].attributes == {"deep": ""},
    ),
    (
        "NUL and astral characters kept as sent",
        "/v1/logs",
        logs(log(attributes=[sample.s("k\u0000", "v\u0000\U0001f600")])),
        200,
        0,
        lambda r: r[0].attributes == {"k\u0000": "v\u0000\U0001f600"},
    ),
    (
        "a lone surrogate escape becomes U+FFFD",
        "/v1/logs",
        logs(log(body={"stringValue": "cut"})).replace(b'"cut"', b'"cut \\ud83d"'),
        200,
        0,
        lambda r: r[0].body == "cut \ufffd",
    ),
    (
        "a long attribute value truncated to 4096",
        "/v1/traces",
        traces(span(attributes=[sample.s("stack", "x" * 5000)])),
        200,
        0,
        lambda r: r[0].attributes == {"stack": "x" * 4096},
    ),
    (
        "kvlist 200 deep is whole-request garbage",
        "/v1/logs",
        logs(log(attributes=[{"key": "deep", "value": kvlist(200)}])),
        400,
        0,
        lambda r: r == [],
    ),
    ("not JSON", "/v1/traces", b"{", 400, 0, lambda r: r == []),
    ("wrong shape", "/v1/traces", b'{"resourceSpans": 5}', 400, 0, lambda r: r == []),
    (
        "number too big for uint64",
        "/v1/traces",
        traces(span(startTimeUnixNano="184467440737095516160")),
        400,
        0,
        lambda r: r == [],
    ),
    ("empty export", "/v1/logs", b"{}", 200, 0, lambda r: r == []),
]


@pytest.mark.parametrize(
    ("path", "body", "status", "rejected", "check"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_hostile_case(
    client: httpx.AsyncClient,
    memory_bus: Bus,
    path: str,
    body: bytes,
    status: int,
    rejected: int,
    check: Check,
) -> None:
    response = await client.post(path, content=body, headers=JSON)
    assert response.status_code == status, response.text
    if status == 200:
        field = "rejectedSpans" if path == "/v1/traces" else "rejectedLogRecords"
        partial = response.json().get("partialSuccess", {})
        assert int(partial.get(field, 0)) == rejected, partial
        assert bool(partial.get("errorMessage")) == bool(rejected)
    records = await landed(memory_bus)
    assert check(records), records


async def test_partial_success_in_protobuf_too(client: httpx.AsyncClient) -> None:
    document = json.loads(traces(span(spanId="00" * 8), span(), span(traceId="ab")))
    body = sample.protobuf_traces(document).SerializeToString()
    response = await client.post("/v1/traces", content=body, headers=PROTOBUF)
    assert response.status_code == 200
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 2
    assert answer.partial_success.error_message.startswith("2 of 3 spans rejected: ")
    assert "1 span_id must be 8 bytes" in answer.partial_success.error_message
    assert "1 trace_id must be 16 bytes" in answer.partial_success.error_message


async def test_records_over_the_request_limit_are_partial_success(
    make_client: AppClient, memory_bus: Bus
) -> None:
    client = await make_client(ingest_max_logs_per_request=5)
    response = await client.post(
        "/v1/logs", content=logs(*(log(severityText=str(i)) for i in range(7))), headers=JSON
    )
    partial = response.json()["partialSuccess"]
    assert (response.status_code, partial["rejectedLogRecords"]) == (200, "2")
    assert "EXOS_INGEST_MAX_LOGS_PER_REQUEST" in partial["errorMessage"]
    kept = await landed(memory_bus)
    assert [r.severity_text for r in kept] == ["0", "1", "2", "3", "4"]


async def test_a_json_body_over_its_own_limit_is_413(make_client: AppClient) -> None:
    client = await make_client(ingest_max_json_bytes=2048)
    small = logs(log(body={"stringValue": "x" * 1000}))
    large = logs(log(body={"stringValue": "x" * 3000}))
    assert (await client.post("/v1/logs", content=small, headers=JSON)).status_code == 200
    response = await client.post("/v1/logs", content=large, headers=JSON)
    assert response.status_code == 413
    assert "EXOS_INGEST_MAX_JSON_BYTES" in response.json()["message"]


async def test_a_replay_chunk_over_the_bus_limit_is_rejected_alone(
    make_client: AppClient, memory_bus: Bus
) -> None:
    client = await make_client(kafka_max_message_bytes=1024 * 1024)
    request = sample.replay_log_request()
    request.resource_logs[0].scope_logs[0].log_records[1].body.string_value = "x" * (1024 * 1024)
    for record in request.resource_logs[0].scope_logs[0].log_records:
        record.time_unix_nano = NOW
    response = await client.post("/v1/logs", content=request.SerializeToString(), headers=PROTOBUF)
    answer = ExportLogsServiceResponse.FromString(response.content)
    assert (response.status_code, answer.partial_success.rejected_log_records) == (200, 1)
    assert "EXOS_KAFKA_MAX_MESSAGE_BYTES" in answer.partial_success.error_message
    (chunk,) = decoded(await drain(memory_bus, Topic.REPLAY_RAW))
    assert chunk.event_ordinal == 1


async def test_corrections_and_drops_are_counted_in_metrics(client: httpx.AsyncClient) -> None:
    await client.post(
        "/v1/logs", content=logs(log(severityNumber=300), log(spanId="ab")), headers=JSON
    )
    await client.post(
        "/v1/traces",
        content=traces(span(startTimeUnixNano=str(NOW - 40 * DAY)), session="late"),
        headers=JSON,
    )
    text = (await client.get("/metrics")).text
    corrected = "exos_ingest_records_corrected_total"
    dropped = "exos_ingest_records_dropped_total"
    assert metric(text, corrected, signal="logs", reason="severity_number") == 1
    assert metric(text, corrected, signal="traces", reason="clock_behind") == 1
    assert metric(text, dropped, signal="logs", reason="bad_log_ids") == 1
    assert metric(text, "exos_ingest_records_accepted_total", signal="logs") == 1
