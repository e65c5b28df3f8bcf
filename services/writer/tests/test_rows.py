"""Messages -> table rows."""

from __future__ import annotations

from exos_common.messages import ReplayChunk, SpanEvent, SpanLink, SpanRecord
from exos_writer.rows import REPLAY_COLUMNS, TRACE_COLUMNS, replay_row, trace_row


def test_trace_row_follows_the_column_order() -> None:
    span = SpanRecord(
        session_id="s1",
        timestamp_ns=1_764_331_200_123_456_789,
        trace_id="t" * 32,
        span_id="a" * 16,
        name="click",
        service_name="portal",
        kind="Client",
        duration_ns=42,
        attributes={"target_xpath": "//button"},
        events=[SpanEvent(7, "exception", {"exception.type": "TypeError"})],
        links=[SpanLink("l" * 32, "b" * 16, "st")],
    )
    row = dict(zip(TRACE_COLUMNS, trace_row(span), strict=True))
    assert row["Timestamp"] == 1_764_331_200_123_456_789
    assert row["SpanName"] == "click"
    assert row["SpanKind"] == "Client"
    assert row["Duration"] == 42
    assert row["SpanAttributes"] == {"target_xpath": "//button"}
    assert row["Events.Timestamp"] == [7]
    assert row["Events.Attributes"] == [{"exception.type": "TypeError"}]
    assert row["Links.TraceState"] == ["st"]


def test_replay_row_keeps_nanoseconds_and_chunk_numbers() -> None:
    chunk = ReplayChunk(
        session_id="s1",
        timestamp_ns=1_764_331_200_000_000_001,
        service_name="portal",
        body='{"type":2',
        scope_name="rum.rr-web",
        resource_attributes={"rum.sessionId": "s1"},
        attributes={"rr-web.event": "3", "rr-web.chunk": "1", "rr-web.total-chunks": "2"},
    )
    row = dict(zip(REPLAY_COLUMNS, replay_row(chunk), strict=True))
    assert row["Timestamp"] == 1_764_331_200_000_000_001
    assert row["LogAttributes"]["rr-web.chunk"] == "1"
    assert row["Body"] == '{"type":2'
