"""The versioned pipeline codec: round trips, schema header, poison detection."""

from __future__ import annotations

import orjson
import pytest

from exos_common.codec import (
    SCHEMA_HEADER,
    PoisonRecord,
    dead_letter_headers,
    decode,
    decode_dead_letter,
    encode,
)
from exos_common.messages import (
    ClientContext,
    DeadLetter,
    LogRecord,
    ReplayChunk,
    SpanEvent,
    SpanLink,
    SpanRecord,
)

SPAN = SpanRecord(
    session_id="4bf92f3577b34da6a3ce929d0e0e4736",
    timestamp_ns=1_764_331_200_000_000_001,
    trace_id="0af7651916cd43dd8448eb211c80319c",
    span_id="b7ad6b7169203331",
    name="click",
    service_name="portal",
    duration_ns=2_500_000,
    attributes={"target_xpath": '//*[@id="save"]', "component": "user-interaction"},
    events=[SpanEvent(1_764_331_200_000_000_500, "exception", {"exception.type": "TypeError"})],
    links=[SpanLink("0af7651916cd43dd8448eb211c80319c", "00f067aa0ba902b7")],
    client=ClientContext(ip="203.0.113.7", user_agent="Mozilla/5.0", received_at_ns=5),
)


def test_span_round_trips_with_its_schema_header() -> None:
    value, headers = encode(SPAN)
    assert headers == [(SCHEMA_HEADER, b"span/1")]
    decoded = decode(value, headers)
    assert decoded == SPAN
    assert isinstance(decoded, SpanRecord)
    assert decoded.events[0].attributes == {"exception.type": "TypeError"}
    assert decoded.client.ip == "203.0.113.7"


def test_log_and_replay_chunk_keep_their_type() -> None:
    log = LogRecord(session_id="s", timestamp_ns=1, service_name="portal", body="hello")
    chunk = ReplayChunk(
        session_id="s",
        timestamp_ns=2,
        service_name="portal",
        body='{"type":2,',
        scope_name="rum.rr-web",
        attributes={"rr-web.event": "7", "rr-web.chunk": "1.0", "rr-web.total-chunks": "3"},
    )
    assert encode(log)[1] == [(SCHEMA_HEADER, b"log/1")]
    decoded = decode(*encode(chunk))
    assert type(decoded) is ReplayChunk
    assert isinstance(decoded, ReplayChunk)
    assert (decoded.event_ordinal, decoded.chunk, decoded.total_chunks) == (7, 1, 3)
    assert type(decode(*encode(log))) is LogRecord


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"{}", [], "missing exos-schema header"),
        (b"{}", [(SCHEMA_HEADER, b"span/9")], "unsupported schema 'span/9'"),
        (b"{not json", [(SCHEMA_HEADER, b"span/1")], "invalid JSON"),
        (b"[1, 2]", [(SCHEMA_HEADER, b"span/1")], "not a JSON object"),
        (b'{"session_id": "s"}', [(SCHEMA_HEADER, b"span/1")], "span/1: "),
        (
            orjson.dumps({**orjson.loads(encode(SPAN)[0]), "timestamp_ns": "yesterday"}),
            [(SCHEMA_HEADER, b"span/1")],
            "field 'timestamp_ns' must be int",
        ),
        (b'{"session_id":"s","bogus":1}', [(SCHEMA_HEADER, b"log/1")], "log/1: "),
    ],
)
def test_undecodable_messages_are_poison(
    value: bytes, headers: list[tuple[str, bytes]], reason: str
) -> None:
    with pytest.raises(PoisonRecord) as raised:
        decode(value, headers)
    assert reason in str(raised.value)


def test_dead_letter_travels_in_headers_with_the_original_bytes() -> None:
    letter = DeadLetter(
        source_topic="otlp.spans.raw",
        partition=3,
        offset=1041,
        key=b"session-1",
        value=b"\x00garbage",
        reason="invalid JSON: unexpected character",
        error_type="PoisonRecord",
        consumer_group="exos-enrich",
        failed_at_ns=1_764_331_200_000_000_000,
    )
    headers = dead_letter_headers(letter)
    assert ("exos-dlq-offset", b"1041") in headers
    assert decode_dead_letter(letter.key, letter.value, headers) == letter
    with pytest.raises(PoisonRecord):
        decode_dead_letter(None, b"x", [("exos-dlq-offset", b"1")])
