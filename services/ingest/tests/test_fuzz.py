"""Property-based fuzzing of the OTLP routes (hypothesis): random protobuf and JSON
requests, out-of-range numbers, odd ids, deep nesting, many attributes, unicode edge
cases, random bytes. Every request is answered 200 or 400 in time (never 5xx, never a
hang), and every record ingest accepted, read back from the bus, fits its columns and
is inserted through the writer's own path (table payloads inserted raw) into chDB without an
error.

The app runs with small limits so the limit paths are hit by small examples."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from column_fit import fits_columns
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_testkit import API_KEY, PEER, decoded, settings_for
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from exos_common.bus import Delivery, OutgoingRecord
from exos_common.bus.memory import InProcessBus
from exos_common.codec import PipelineRecord
from exos_common.messages import ReplayChunk, SpanRecord
from exos_common.store import Store
from exos_common.table_payload import encode_payload, insert_payload
from exos_common.testing.stores import open_migrated_store
from exos_common.topics import pipeline_topic_specs
from exos_ingest.app import create_app
from exos_ingest.limits import Limits

# The run's own time: the rows inserted into chDB stay inside the tables' retention.
NOW = time.time_ns()
DAY = 86_400 * 1_000_000_000
SMALL_LIMITS = {
    "ingest_max_spans_per_request": 12,
    "ingest_max_logs_per_request": 12,
    "ingest_max_attributes": 6,
    "ingest_max_attribute_value_chars": 64,
    "ingest_max_attribute_key_chars": 16,
    "ingest_max_span_name_chars": 32,
    "ingest_max_events_per_span": 3,
    "ingest_max_links_per_span": 2,
    "ingest_max_anyvalue_depth": 3,
}
SETTINGS = settings_for(**SMALL_LIMITS)
LIMITS = Limits.from_settings(SETTINGS)
FUZZ = settings(
    database=None,  # nothing written into the repository
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ANSWER_TIMEOUT_S = 20.0

# ---- strategies -------------------------------------------------------------------------

# Includes NUL, line separators, astral characters and (JSON only) lone surrogates.
ODD_CHARS = st.sampled_from(["\x00", "\u2028", "\U0001f600", "\ufffd", "a", "<", '"', "\\"])
text = st.one_of(st.text(max_size=80), st.text(ODD_CHARS, max_size=80), st.just("x" * 200))
json_text = st.one_of(text, st.text(st.sampled_from(["\ud800", "\udfff", "b", "\x00"]), max_size=8))
uint64 = st.one_of(
    st.integers(0, (1 << 64) - 1),
    st.integers(NOW - 60 * DAY, NOW + 60 * DAY),
    st.sampled_from([0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, NOW]),
)
int32 = st.one_of(st.integers(-(1 << 31), (1 << 31) - 1), st.integers(-2, 30))
ids = st.one_of(st.binary(max_size=20), st.binary(min_size=16, max_size=16), st.just(b""))
span_ids = st.one_of(st.binary(max_size=10), st.binary(min_size=8, max_size=8))

scalar = st.one_of(
    st.builds(lambda v: AnyValue(string_value=v), text),
    st.builds(lambda v: AnyValue(int_value=v), st.integers(-(1 << 63), (1 << 63) - 1)),
    st.builds(lambda v: AnyValue(double_value=v), st.floats(allow_nan=True)),
    st.builds(lambda v: AnyValue(bool_value=v), st.booleans()),
    st.builds(lambda v: AnyValue(bytes_value=v), st.binary(max_size=40)),
    st.just(AnyValue()),
)


def _array(values: list[AnyValue]) -> AnyValue:
    value = AnyValue()
    value.array_value.values.extend(values)
    return value


def _kvlist(pairs: list[tuple[str, AnyValue]]) -> AnyValue:
    value = AnyValue()
    value.kvlist_value.values.extend(KeyValue(key=k, value=v) for k, v in pairs)
    return value


any_value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(_array),
        st.lists(st.tuples(text, inner), max_size=4).map(_kvlist),
    ),
    max_leaves=30,
)
key_values = st.lists(st.builds(KeyValue, key=text, value=any_value), max_size=10)
resource_attributes = st.one_of(
    key_values,
    st.builds(
        lambda extra, session: (
            [KeyValue(key="rum.sessionId", value=AnyValue(string_value=session)), *extra]
        ),
        key_values,
        st.sampled_from(["s-1", "s-2", "x" * 100]),
    ),
)


@st.composite
def trace_requests(draw: st.DrawFn) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(0, 2))):
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend(draw(resource_attributes))
        scope = resource_spans.scope_spans.add()
        scope.scope.name = draw(text)
        for _ in range(draw(st.integers(0, 9))):
            span = scope.spans.add(
                trace_id=draw(ids),
                span_id=draw(span_ids),
                parent_span_id=draw(st.one_of(st.just(b""), span_ids)),
                name=draw(text),
                kind=draw(int32),
                start_time_unix_nano=draw(uint64),
                end_time_unix_nano=draw(uint64),
                flags=draw(st.integers(0, (1 << 32) - 1)),
            )
            span.status.code = draw(int32)
            span.status.message = draw(text)
            span.attributes.extend(draw(key_values))
            for _ in range(draw(st.integers(0, 4))):
                event = span.events.add(time_unix_nano=draw(uint64), name=draw(text))
                event.attributes.extend(draw(st.lists(st.builds(KeyValue, key=text), max_size=3)))
            for _ in range(draw(st.integers(0, 3))):
                span.links.add(trace_id=draw(ids), span_id=draw(span_ids))
    return request


@st.composite
def log_requests(draw: st.DrawFn) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    for _ in range(draw(st.integers(0, 2))):
        resource_logs = request.resource_logs.add()
        resource_logs.resource.attributes.extend(draw(resource_attributes))
        scope = resource_logs.scope_logs.add()
        scope.scope.attributes.extend(draw(key_values))
        for _ in range(draw(st.integers(0, 9))):
            record = scope.log_records.add(
                time_unix_nano=draw(uint64),
                observed_time_unix_nano=draw(uint64),
                severity_number=draw(int32),
                severity_text=draw(text),
                trace_id=draw(st.one_of(st.just(b""), ids)),
                span_id=draw(st.one_of(st.just(b""), span_ids)),
                flags=draw(st.integers(0, (1 << 32) - 1)),
            )
            record.body.CopyFrom(draw(any_value))
            record.attributes.extend(draw(key_values))
            if draw(st.booleans()):
                record.attributes.add(key="rr-web.event", value=AnyValue(double_value=1.0))
    return request


# ---- OTLP/JSON twins: ids in hex, plus JSON-only oddities ------------------------------

_ID_FIELDS = {"traceId", "spanId", "parentSpanId"}


def _hex_ids(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: base64.b64decode(v).hex() if k in _ID_FIELDS and isinstance(v, str) else _hex_ids(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids(item) for item in node]
    return node


def as_otlp_json(message: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return dict(_hex_ids(json_format.MessageToDict(message)))


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), json_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(json_text, inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def odd_json_documents(draw: st.DrawFn) -> bytes:
    """A valid-looking document with one field replaced by something random."""
    message = draw(st.one_of(trace_requests(), log_requests()))
    document = as_otlp_json(message)
    path_fields = ["resourceSpans", "resourceLogs", "scopeSpans", "scopeLogs", "spans"]
    node: Any = document
    while isinstance(node, dict) and node:
        key = draw(st.sampled_from(sorted(node)))
        if key not in path_fields or draw(st.booleans()):
            node[key] = draw(json_values)
            break
        child = node[key]
        if not isinstance(child, list) or not child:
            break
        node = child[0]
    return json.dumps(document).encode()


# ---- running one request ----------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_store(chdb_path: Path) -> Iterator[Store]:
    store, store_settings = open_migrated_store(chdb_path, "fuzz")
    yield store
    store.command(f"DROP DATABASE IF EXISTS {store_settings.clickhouse_database}")
    store.close()


class CapturingBus(InProcessBus):
    """The in-process bus, keeping what was published so a test reads it back at once
    (a consumer would wait out a fetch timeout per topic per example)."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[OutgoingRecord] = []

    async def publish_many(self, records: Sequence[OutgoingRecord]) -> list[Delivery]:
        deliveries = await super().publish_many(records)
        self.published.extend(records)
        return deliveries


async def _post(
    path: str, body: bytes, content_type: str
) -> tuple[httpx.Response, list[PipelineRecord]]:
    bus = CapturingBus()
    await bus.ensure_topics(pipeline_topic_specs(2, 1, 8 * 1024 * 1024))
    app = create_app(SETTINGS, bus=bus, clock=lambda: NOW)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=PEER)
            async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as c:
                headers = {"content-type": content_type, "authorization": API_KEY}
                response = await asyncio.wait_for(
                    c.post(path, content=body, headers=headers), ANSWER_TIMEOUT_S
                )
            return response, decoded(bus.published)
    finally:
        await bus.stop()


def _insert(store: Store, records: list[PipelineRecord]) -> None:
    """Through the writer's own path: table payloads inserted raw."""
    spans = [r for r in records if isinstance(r, SpanRecord)]
    chunks = [r for r in records if isinstance(r, ReplayChunk)]
    logs = [r for r in records if not isinstance(r, SpanRecord | ReplayChunk)]
    for table, rows in (("otel_traces", spans), ("hyperdx_sessions", chunks), ("otel_logs", logs)):
        if rows:
            assert insert_payload(store, encode_payload(table, rows)) == len(rows)


def check(
    store: Store, path: str, body: bytes, content_type: str
) -> tuple[httpx.Response, list[PipelineRecord]]:
    response, records = asyncio.run(_post(path, body, content_type))
    assert response.status_code in (200, 400), (response.status_code, response.text[:300])
    if response.status_code == 400:
        assert records == []
    for record in records:
        problems = fits_columns(record, received_at_ns=NOW, limits=LIMITS)
        assert not problems, (problems, record)
    _insert(store, records)
    return response, records


def _rejected(response: httpx.Response, field: str) -> int:
    return int(response.json().get("partialSuccess", {}).get(field, 0))


def _log_count(request: ExportLogsServiceRequest) -> int:
    return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)


# ---- the properties ---------------------------------------------------------------------


@FUZZ
@given(request=trace_requests())
def test_protobuf_traces(fuzz_store: Store, request: ExportTraceServiceRequest) -> None:
    check(fuzz_store, "/v1/traces", request.SerializeToString(), "application/x-protobuf")


@FUZZ
@given(request=log_requests())
def test_protobuf_logs(fuzz_store: Store, request: ExportLogsServiceRequest) -> None:
    response, _ = check(
        fuzz_store, "/v1/logs", request.SerializeToString(), "application/x-protobuf"
    )
    assert response.status_code == 200


@FUZZ
@given(request=log_requests())
def test_json_logs_account_for_every_record(
    fuzz_store: Store, request: ExportLogsServiceRequest
) -> None:
    body = json.dumps(as_otlp_json(request)).encode()
    response, records = check(fuzz_store, "/v1/logs", body, "application/json")
    assert response.status_code == 200, response.text[:300]
    # Every log record sent is either on a topic or counted as rejected.
    assert len(records) + _rejected(response, "rejectedLogRecords") == _log_count(request)


@FUZZ
@given(body=odd_json_documents())
def test_odd_json(fuzz_store: Store, body: bytes) -> None:
    for path in ("/v1/traces", "/v1/logs"):
        check(fuzz_store, path, body, "application/json")


@FUZZ
@given(body=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())))
def test_random_bytes(fuzz_store: Store, body: bytes) -> None:
    for content_type in ("application/x-protobuf", "application/json"):
        check(fuzz_store, "/v1/traces", body, content_type)
