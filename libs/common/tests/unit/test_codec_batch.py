"""Version-2 raw-topic messages: one session's records in one message, counted in a
header; version-1 messages still decoded alongside them."""

from __future__ import annotations

import orjson
import pytest

from exos_common.codec import (
    COUNT_HEADER,
    SCHEMA_HEADER,
    PoisonRecord,
    batch_value_size,
    decode,
    encode,
    encode_batch,
    encode_body,
    record_count,
    records_of,
)
from exos_common.messages import (
    ClientContext,
    LogRecord,
    RecordBatch,
    ReplayChunk,
    SpanEvent,
    SpanLink,
    SpanRecord,
)

SESSION = "4bf92f3577b34da6a3ce929d0e0e4736"


def span(span_id: str, name: str) -> SpanRecord:
    return SpanRecord(
        session_id=SESSION,
        timestamp_ns=1_764_331_200_000_000_001,
        trace_id="0af7651916cd43dd8448eb211c80319c",
        span_id=span_id,
        name=name,
        service_name="portal",
        attributes={"target_xpath": '//*[@id="save"]'},
        events=[SpanEvent(1_764_331_200_000_000_500, "exception", {"exception.type": "E"})],
        links=[SpanLink("0af7651916cd43dd8448eb211c80319c", "00f067aa0ba902b7")],
        client=ClientContext(ip="203.0.113.7", received_at_ns=5),
    )


SPANS = [span("b7ad6b7169203331", "click"), span("00f067aa0ba902b7", "webvitals")]


def test_a_span_batch_round_trips_in_order_with_its_count() -> None:
    value, headers = encode_batch(SpanRecord, [encode_body(s) for s in SPANS])
    assert headers == [(SCHEMA_HEADER, b"spans/2"), (COUNT_HEADER, b"2")]
    assert record_count(headers) == 2
    assert len(value) == batch_value_size(sum(len(encode_body(s)) for s in SPANS), 2)
    batch = decode(value, headers)
    assert isinstance(batch, RecordBatch)
    assert batch.records == SPANS
    assert [s.name for s in records_of(batch)] == ["click", "webvitals"]
    assert batch.session_id == SESSION
    assert isinstance(batch.records[0].events[0], SpanEvent)
    assert batch.records[1].client.ip == "203.0.113.7"


def test_log_and_replay_batches_keep_their_record_type() -> None:
    log = LogRecord(session_id="s", timestamp_ns=1, service_name="portal", body="hello")
    chunk = ReplayChunk(session_id="s", timestamp_ns=2, service_name="p", body='{"type":2,')
    logs = decode(*encode_batch(LogRecord, [encode_body(log)]))
    chunks = decode(*encode_batch(ReplayChunk, [encode_body(chunk)]))
    assert isinstance(logs, RecordBatch) and isinstance(chunks, RecordBatch)
    assert type(logs.records[0]) is LogRecord and logs.records == [log]
    assert type(chunks.records[0]) is ReplayChunk and chunks.records == [chunk]


def test_version_1_messages_are_still_decoded_as_one_record() -> None:
    value, headers = encode(SPANS[0])
    message = decode(value, headers)
    assert message == SPANS[0]
    assert record_count(headers) == 1
    assert list(records_of(message)) == [SPANS[0]]


def _spans_headers(count: bytes) -> list[tuple[str, bytes]]:
    return [(SCHEMA_HEADER, b"spans/2"), (COUNT_HEADER, count)]


GOOD_BODY = encode_body(SPANS[0])


@pytest.mark.parametrize(
    ("value", "headers", "why"),
    [
        (b"[" + GOOD_BODY + b"]", [(SCHEMA_HEADER, b"spans/2")], "missing or invalid exos-count"),
        (b"[" + GOOD_BODY + b"]", _spans_headers(b"-1"), "missing or invalid exos-count"),
        (b"[" + GOOD_BODY + b"]", _spans_headers(b"2"), "exos-count says 2, body has 1"),
        (b"[" + GOOD_BODY + b"," + GOOD_BODY + b"]", _spans_headers(b"1"), "says 1, body has 2"),
        (GOOD_BODY, _spans_headers(b"1"), "not a JSON array"),
        (b"[" + GOOD_BODY + b",3]", _spans_headers(b"2"), "record 1 is not a JSON object"),
        (b'[{"name": "x"}]', _spans_headers(b"1"), "spans/2: record 0:"),
        (b"[" + GOOD_BODY, _spans_headers(b"1"), "invalid JSON"),
        (
            b"[" + orjson.dumps({**orjson.loads(GOOD_BODY), "timestamp_ns": "1"}) + b"]",
            _spans_headers(b"1"),
            "field 'timestamp_ns' must be int",
        ),
        (b"[]", [(SCHEMA_HEADER, b"spans/3"), (COUNT_HEADER, b"0")], "unsupported schema"),
    ],
)
def test_a_broken_batch_is_poison_as_a_whole(
    value: bytes, headers: list[tuple[str, bytes]], why: str
) -> None:
    with pytest.raises(PoisonRecord, match=why.replace("(", r"\(")):
        decode(value, headers)
