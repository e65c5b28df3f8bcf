"""Hostile and valid OTLP traffic for the end-to-end hostile-input tests, and the
bookkeeping that checks where every accepted record went.

The malformed classes come from ingest's own tests (the hand-written corpus and the
hypothesis strategies); they are imported from there, not copied."""

from __future__ import annotations

import gzip
import importlib.util
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from exos_common.bus import OutgoingRecord
from exos_common.codec import encode
from exos_common.messages import LogRecord, SpanRecord
from exos_common.topics import Topic

INGEST_TESTS = Path(__file__).parents[2] / "services" / "ingest" / "tests"


def _ingest_test_module(name: str) -> ModuleType:
    """A module of ingest's tests, imported by its bare name as ingest's tests import
    their own helpers (`ingest_samples`, `ingest_testkit`)."""
    if str(INGEST_TESTS) not in sys.path:
        sys.path.insert(0, str(INGEST_TESTS))
    return importlib.import_module(name)


corpus = _ingest_test_module("test_hostile_corpus")
fuzz = _ingest_test_module("test_fuzz")

JSON = "application/json"
PROTOBUF = "application/x-protobuf"
TRACES, LOGS = "/v1/traces", "/v1/logs"
ANSWER_BOUND_S = 10.0
MIB = 1024 * 1024


@dataclass(frozen=True)
class OtlpRequest:
    """One request and what ingest must answer. `records` is how many spans or log
    records it carries (what a 200 accounts for); `rejected` the partial_success count
    expected, or None where it depends on generated data."""

    name: str
    path: str
    body: bytes
    content_type: str
    status: frozenset[int]
    records: int = 0
    rejected: int | None = 0
    extra_headers: tuple[tuple[str, str], ...] = ()
    session: str | None = None


def _count(document: dict[str, Any]) -> int:
    """Spans or log records of an OTLP/JSON export (0 when it is not one)."""
    total = 0
    for resource in document.get("resourceSpans", document.get("resourceLogs", [])) or []:
        for scope in resource.get("scopeSpans", resource.get("scopeLogs", [])) or []:
            total += len(scope.get("spans", scope.get("logRecords", [])) or [])
    return total


def _retimed(body: bytes, now_ns: int) -> bytes:
    """The corpus is written against a fixed clock; its times moved to `now_ns`, so what
    it says about skew, expiry and clamping holds against the pipeline's real clock."""
    then = corpus.NOW
    for offset in (0, -40 * corpus.DAY, 3 * corpus.DAY):
        body = body.replace(str(then + offset).encode(), str(now_ns + offset).encode())
    return body


def corpus_requests(now_ns: int) -> list[OtlpRequest]:
    requests = []
    for name, path, body, status, rejected, _check in corpus.CASES:
        body = _retimed(body, now_ns)
        records = _count(json.loads(body)) if status == 200 else 0
        requests.append(
            OtlpRequest(f"corpus: {name}", path, body, JSON, frozenset({status}), records, rejected)
        )
    return requests


def _span(now_ns: int, n: int, **fields: Any) -> dict[str, Any]:
    base = {
        "traceId": f"{0xABC:016x}{n:016x}",
        "spanId": f"{n:016x}",
        "name": "hostile",
        "startTimeUnixNano": str(now_ns),
        "endTimeUnixNano": str(now_ns + 1000),
    }
    return {**base, **fields}


def _traces_json(*spans: dict[str, Any], session: str | None = None) -> bytes:
    attributes = [corpus.sample.s("service.name", "hostile")]
    if session:
        attributes.append(corpus.sample.s("rum.sessionId", session))
    return json.dumps(
        {
            "resourceSpans": [
                {"resource": {"attributes": attributes}, "scopeSpans": [{"spans": list(spans)}]}
            ]
        }
    ).encode()


def _big_log(now_ns: int, body_bytes: int) -> bytes:
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    scope.log_records.add(time_unix_nano=now_ns).body.string_value = "x" * body_bytes
    scope.log_records.add(time_unix_nano=now_ns).body.string_value = "small"
    return request.SerializeToString()


def _invalid_utf8_span(now_ns: int) -> bytes:
    request = ExportTraceServiceRequest()
    span = (
        request.resource_spans.add()
        .scope_spans.add()
        .spans.add(
            trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="n", start_time_unix_nano=now_ns
        )
    )
    # The name's bytes are patched after serialising: protobuf refuses to build it.
    del span
    return request.SerializeToString().replace(b"\x2a\x01n", b"\x2a\x01\xff")


def handwritten_requests(now_ns: int) -> list[OtlpRequest]:
    """Classes the corpus leaves out: media types, encodings, bombs, garbage, sizes."""
    many = [corpus.sample.s(f"k{i}", "v") for i in range(1000)]
    odd = "\u202e\u200d\ufeff\U0001f468\u200d\U0001f469\u0301"
    bomb = gzip.compress(b"\0" * (65 * MIB))
    ok = frozenset({200})
    return [
        OtlpRequest(
            "text/plain", TRACES, _traces_json(_span(now_ns, 1)), "text/plain", frozenset({415})
        ),
        OtlpRequest(
            "brotli encoding",
            TRACES,
            b"x",
            PROTOBUF,
            frozenset({415}),
            extra_headers=(("content-encoding", "br"),),
        ),
        OtlpRequest(
            "gzip header on plain bytes",
            TRACES,
            b"not gzip",
            PROTOBUF,
            frozenset({400}),
            extra_headers=(("content-encoding", "gzip"),),
        ),
        OtlpRequest(
            "gzip bomb 65 MiB",
            LOGS,
            bomb,
            PROTOBUF,
            frozenset({413}),
            extra_headers=(("content-encoding", "gzip"),),
        ),
        OtlpRequest(
            "garbage protobuf", TRACES, b"\xff\xfe\x00garbage" * 7, PROTOBUF, frozenset({400})
        ),
        OtlpRequest("empty protobuf body", LOGS, b"", PROTOBUF, ok),
        OtlpRequest(
            "invalid UTF-8 in protobuf",
            TRACES,
            _invalid_utf8_span(now_ns),
            PROTOBUF,
            frozenset({400}),
        ),
        OtlpRequest(
            "1000 attributes", TRACES, _traces_json(_span(now_ns, 2, attributes=many)), JSON, ok, 1
        ),
        OtlpRequest(
            "trace id of 1000 hex chars and an empty one",
            TRACES,
            _traces_json(
                _span(now_ns, 3, traceId="ab" * 500), _span(now_ns, 4, traceId=""), _span(now_ns, 5)
            ),
            JSON,
            ok,
            3,
            2,
        ),
        OtlpRequest(
            "bidi, ZWJ and BOM in names and keys",
            TRACES,
            _traces_json(
                _span(now_ns, 6, name=odd, attributes=[corpus.sample.s(odd, odd)]), session=odd
            ),
            JSON,
            ok,
            1,
        ),
        OtlpRequest(
            "severity -7 and 2^31-1",
            LOGS,
            corpus.logs(
                corpus.log(severityNumber=-7), corpus.log(severityNumber=2**31 - 1)
            ).replace(str(corpus.NOW).encode(), str(now_ns).encode()),
            JSON,
            ok,
            2,
        ),
        OtlpRequest(
            "a 9 MiB log body next to a small one",
            LOGS,
            _big_log(now_ns, 9 * MIB),
            PROTOBUF,
            ok,
            2,
            1,
        ),
        OtlpRequest(
            "no API key",
            TRACES,
            _traces_json(_span(now_ns, 7)),
            JSON,
            frozenset({401}),
            extra_headers=(("authorization", ""),),
        ),
    ]


GENERATED = settings(
    database=None,
    max_examples=6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def generated_requests() -> list[OtlpRequest]:
    """Requests drawn by ingest's hypothesis strategies, from a fixed seed so a failure
    replays. Only shapes whose record count is known are drawn (protobuf traces and logs,
    logs as OTLP/JSON); a generated request may be refused (400) as a whole."""
    drawn: list[OtlpRequest] = []

    @seed(20261207)
    @GENERATED
    @given(traces=fuzz.trace_requests(), logs=fuzz.log_requests())
    def draw(traces: ExportTraceServiceRequest, logs: ExportLogsServiceRequest) -> None:
        n = len(drawn)
        span_count = sum(len(s.spans) for r in traces.resource_spans for s in r.scope_spans)
        log_count = fuzz._log_count(logs)
        drawn.append(
            OtlpRequest(
                f"generated traces {n}",
                TRACES,
                traces.SerializeToString(),
                PROTOBUF,
                frozenset({200, 400}),
                span_count,
                None,
            )
        )
        drawn.append(
            OtlpRequest(
                f"generated logs {n}",
                LOGS,
                logs.SerializeToString(),
                PROTOBUF,
                frozenset({200}),
                log_count,
                None,
            )
        )
        body = json.dumps(fuzz.as_otlp_json(logs)).encode()
        drawn.append(
            OtlpRequest(
                f"generated JSON logs {n}", LOGS, body, JSON, frozenset({200}), log_count, None
            )
        )

    draw()
    return drawn


SPANS_PER_SESSION, LOGS_PER_SESSION = 3, 2


def _attribute(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def valid_session(session: str, n: int, now_ns: int) -> list[OtlpRequest]:
    """A browser session: three HTTP spans (OTLP/JSON, as the SDK sends traces) and two
    log records (protobuf), all now. HTTP spans raise no frustration signal, so enrich
    adds no span of its own and the counts per session are exact."""
    resource = [_attribute("service.name", "shop-web"), _attribute("rum.sessionId", session)]
    spans = [
        {
            "traceId": f"{n + 1:016x}{i + 1:016x}",
            "spanId": f"{n + 1:08x}{i + 1:08x}",
            "name": "HTTP GET",
            "kind": 3,
            "startTimeUnixNano": str(now_ns + i),
            "endTimeUnixNano": str(now_ns + i + 2_000_000),
            "attributes": [_attribute("http.url", f"https://shop.example/api/{i}")],
        }
        for i in range(SPANS_PER_SESSION)
    ]
    traces = {
        "resourceSpans": [{"resource": {"attributes": resource}, "scopeSpans": [{"spans": spans}]}]
    }
    logs = ExportLogsServiceRequest()
    resource_logs = logs.resource_logs.add()
    resource_logs.resource.attributes.extend(
        KeyValue(key=a["key"], value=AnyValue(string_value=a["value"]["stringValue"]))
        for a in resource
    )
    scope = resource_logs.scope_logs.add()
    for i in range(LOGS_PER_SESSION):
        record = scope.log_records.add(time_unix_nano=now_ns + i, severity_number=9)
        record.body.string_value = f"{session} log {i}"
    ok = frozenset({200})
    return [
        OtlpRequest(
            f"valid traces {session}",
            TRACES,
            json.dumps(traces).encode(),
            JSON,
            ok,
            SPANS_PER_SESSION,
            0,
            session=session,
        ),
        OtlpRequest(
            f"valid logs {session}",
            LOGS,
            logs.SerializeToString(),
            PROTOBUF,
            ok,
            LOGS_PER_SESSION,
            0,
            session=session,
        ),
    ]


def interleaved(
    run: str, sessions: int, hostile: list[OtlpRequest], now_ns: int
) -> list[OtlpRequest]:
    """Valid sessions and hostile requests shuffled together (fixed seed)."""
    valid = [r for n in range(sessions) for r in valid_session(f"{run}-v{n}", n, now_ns)]
    mixed = valid + hostile
    random.Random(7).shuffle(mixed)
    return mixed


# ---- records ingest would never produce, for the writer directly -------------------------


def _bypass_span(session: str, n: int, now_ns: int, **fields: Any) -> SpanRecord:
    values: dict[str, Any] = {
        "session_id": session,
        "timestamp_ns": now_ns + n,
        "trace_id": f"{0xB1A5:016x}{n + 1:016x}",
        "span_id": f"{0xB1A5:08x}{n + 1:08x}",
        "name": "HTTP GET",
        "service_name": "shop-web",
        "resource_attributes": {"rum.sessionId": session},
    }
    return SpanRecord(**(values | fields))


def _bypass_log(session: str, n: int, now_ns: int, **fields: Any) -> LogRecord:
    values: dict[str, Any] = {
        "session_id": session,
        "timestamp_ns": now_ns + n,
        "service_name": "shop-web",
        "body": f"{session} log",
        "severity_number": 9,
        "resource_attributes": {"rum.sessionId": session},
    }
    return LogRecord(**(values | fields))


def _outgoing(record: SpanRecord | LogRecord) -> OutgoingRecord:
    value, headers = encode(record)
    topic = Topic.SPANS_ENRICHED if isinstance(record, SpanRecord) else Topic.LOGS_ENRICHED
    return OutgoingRecord(str(topic), value, record.session_id.encode(), headers)


@dataclass(frozen=True)
class Bypass:
    records: list[OutgoingRecord]
    bad: dict[str, bytes]  # what is wrong -> the record's value
    sessions: list[str]


def bypass_records(run: str, sessions: int, now_ns: int) -> Bypass:
    """`sessions` valid sessions (a span and a log each) on the enriched topics, with four
    records whose columns ClickHouse cannot hold between them, each in a session of its
    own next to valid ones."""
    names = [f"{run}-b{n}" for n in range(sessions)]
    valid: list[OutgoingRecord] = []
    for n, session in enumerate(names):
        valid += [
            _outgoing(_bypass_span(session, n, now_ns)),
            _outgoing(_bypass_log(session, n, now_ns)),
        ]
    bad_records = {
        "span at 2^63 ns": _bypass_span(f"{run}-x0", 900, now_ns, timestamp_ns=2**63),
        "span of duration -1": _bypass_span(f"{run}-x1", 901, now_ns, duration_ns=-1),
        "log severity 300": _bypass_log(f"{run}-x2", 902, now_ns, severity_number=300),
        "log trace flags 256": _bypass_log(f"{run}-x3", 903, now_ns, trace_flags=256),
    }
    bad = {what: _outgoing(record) for what, record in bad_records.items()}
    mixed = list(valid)
    for at, record in zip((3, 9, 14, len(mixed)), bad.values(), strict=True):
        mixed.insert(at, record)
    return Bypass(mixed, {what: r.value for what, r in bad.items()}, names)
