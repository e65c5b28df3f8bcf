"""One bus message per (request, session, signal): a request of several sessions is
split by session, each batch keeps its records in order, a batch over the bus's message
limit is split, and a record over it alone is set aside."""

from __future__ import annotations

import httpx
import ingest_samples as sample
from ingest_testkit import API_KEY, decoded, drain

from exos_common.bus import Bus
from exos_common.codec import COUNT_HEADER, SCHEMA_HEADER, decode, encode_body
from exos_common.messages import LogRecord, RecordBatch, ReplayChunk, SpanRecord
from exos_common.topics import Topic
from exos_ingest.routing import RECORD_OVERHEAD_BYTES, route

JSON = {"content-type": "application/json", "authorization": API_KEY}


def span(session: str, name: str, trace_id: str = "") -> SpanRecord:
    return SpanRecord(session, 1, trace_id or "ab" * 16, "cd" * 8, name, "portal")


def log(session: str, body: str) -> LogRecord:
    return LogRecord(session, 1, "portal", body=body)


def chunk(session: str, body: str) -> ReplayChunk:
    return ReplayChunk(session, 1, "portal", body=body)


def test_records_are_grouped_by_topic_and_session_in_request_order() -> None:
    records = [
        span("s1", "a"),
        span("s2", "b"),
        log("s1", "l1"),
        span("s1", "c"),
        span("", "server", trace_id="ef" * 16),
        log("s1", "l2"),
        chunk("s1", "r1"),
        chunk("s1", "r2"),
    ]
    routed = route(records, request_key="req", max_message_bytes=1 << 20)
    assert routed.too_large == 0
    summary = [
        (r.topic, r.key, [getattr(m, "name", getattr(m, "body", "")) for m in decoded([r])])
        for r in routed.outgoing
    ]
    assert summary == [
        ("otlp.spans.raw", b"s1", ["a", "c"]),
        ("otlp.spans.raw", b"s2", ["b"]),
        ("otlp.logs.raw", b"s1", ["l1", "l2"]),
        ("otlp.spans.raw", b"ef" * 16, ["server"]),
        # rrweb chunks stay one per message: the writer stores replay.raw as it is.
        ("replay.raw", b"s1", ["r1"]),
        ("replay.raw", b"s1", ["r2"]),
    ]
    headers = {r.key: dict(r.headers) for r in routed.outgoing if r.topic == "otlp.spans.raw"}
    assert headers[b"s1"] == {SCHEMA_HEADER: b"spans/2", COUNT_HEADER: b"2"}
    replay_headers = [dict(r.headers) for r in routed.outgoing if r.topic == "replay.raw"]
    assert replay_headers == [{SCHEMA_HEADER: b"replay/1"}] * 2


def test_a_batch_over_the_message_limit_is_split_and_an_oversized_record_set_aside() -> None:
    body = "x" * 1000
    records = [log("s1", body) for _ in range(5)]
    one = len(encode_body(records[0]))
    # Room for exactly two records per message: "[" + a + "," + b + "]".
    limit = RECORD_OVERHEAD_BYTES + len(b"s1") + 2 * one + 3
    records.insert(2, log("s1", "y" * 5000))  # alone over the limit
    routed = route(records, request_key="req", max_message_bytes=limit)
    assert routed.too_large == 1
    assert [len(decoded([r])) for r in routed.outgoing] == [2, 2, 1]
    sizes = [len(r.value) + len(r.key or b"") + RECORD_OVERHEAD_BYTES for r in routed.outgoing]
    assert max(sizes) <= limit
    assert [m.body for m in decoded(routed.outgoing)] == [body] * 5  # type: ignore[union-attr]


def _two_session_request() -> dict[str, object]:
    first = sample.hyperdx_traces(session_id="session-one")
    second = sample.hyperdx_traces(session_id="session-two")
    first["resourceSpans"] += second["resourceSpans"]  # type: ignore[operator]
    return first


async def test_a_two_session_request_becomes_one_message_per_session_and_signal(
    client: httpx.AsyncClient, memory_bus: Bus
) -> None:
    response = await client.post(
        "/v1/traces", content=sample.json_bytes(_two_session_request()), headers=JSON
    )
    assert response.status_code == 200, response.text
    spans = await drain(memory_bus, Topic.SPANS_RAW)
    logs = await drain(memory_bus, Topic.LOGS_RAW)
    # Each session: three spans (click, webvitals, console.error) and two console logs.
    assert sorted((r.key, dict(r.headers)[COUNT_HEADER]) for r in spans) == [
        (b"session-one", b"3"),
        (b"session-two", b"3"),
    ]
    assert sorted((r.key, dict(r.headers)[COUNT_HEADER]) for r in logs) == [
        (b"session-one", b"2"),
        (b"session-two", b"2"),
    ]
    for record in spans + logs:
        batch = decode(record.value, record.headers)
        assert isinstance(batch, RecordBatch)
        assert {m.session_id for m in batch.records} == {record.key.decode()}  # type: ignore[union-attr]
    by_session = {r.key: [m.name for m in decoded([r])] for r in spans}  # type: ignore[union-attr]
    assert by_session[b"session-one"] == ["click", "webvitals", "console.error"]
    assert by_session[b"session-two"] == ["click", "webvitals", "console.error"]
