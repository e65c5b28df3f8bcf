"""What enrich publishes: one table payload per session and table, keyed by session,
each session's rows in their order."""

from __future__ import annotations

from exos_common.messages import LogRecord, SpanRecord
from exos_common.table_payload import decode_payload, encode_line, read_spans
from exos_common.topics import Topic
from exos_enrich.pipeline import to_outgoing


def span(session: str, i: int) -> SpanRecord:
    return SpanRecord(session, 1_000 + i, f"{i:032x}", f"{i:016x}", "click", "portal")


def log(session: str, i: int) -> LogRecord:
    return LogRecord(session, 2_000 + i, "portal", body=f"log {i}")


def test_records_of_two_sessions_become_one_payload_per_session_and_table() -> None:
    records = [span("a", 1), log("b", 2), span("b", 3), span("a", 4), log("b", 5), span("a", 6)]
    out = to_outgoing(records)
    assert [(o.topic, o.key) for o in out] == [
        (str(Topic.SPANS_ENRICHED), b"a"),
        (str(Topic.LOGS_ENRICHED), b"b"),
        (str(Topic.SPANS_ENRICHED), b"b"),
    ]
    spans_a, logs_b, spans_b = (decode_payload(o.value, o.headers) for o in out)
    assert (spans_a.table, spans_a.row_count) == ("otel_traces", 3)
    assert [s.span_id for s in read_spans(spans_a.body)] == [f"{i:016x}" for i in (1, 4, 6)]
    assert (logs_b.table, logs_b.row_count) == ("otel_logs", 2)
    assert logs_b.body == encode_line("otel_logs", log("b", 2)) + encode_line(
        "otel_logs", log("b", 5)
    )
    assert (spans_b.table, spans_b.row_count) == ("otel_traces", 1)


def test_nothing_enriched_publishes_nothing() -> None:
    assert to_outgoing([]) == []


def test_a_session_payload_is_cut_before_it_passes_the_size_limit() -> None:
    spans = [span("a", i) for i in range(5)]
    line = len(encode_line("otel_traces", spans[0]))  # every line has the same length
    out = to_outgoing(spans, max_bytes=2 * line)
    counts = [decode_payload(o.value, o.headers).row_count for o in out]
    assert counts == [2, 2, 1]
    assert [o.key for o in out] == [b"a"] * 3
    ids = [s.span_id for o in out for s in read_spans(o.value)]
    assert ids == [f"{i:016x}" for i in range(5)]
    # A row larger than the limit travels alone.
    assert [decode_payload(o.value, o.headers).row_count for o in to_outgoing(spans, 1)] == [1] * 5
