"""Clock correction: skewed browser sessions shifted as a whole, the future clamped, the
expired dropped and counted. Every expected time is computed by hand from NOW."""

from __future__ import annotations

from exos_common.messages import LogRecord, ReplayChunk, SpanEvent, SpanRecord
from exos_ingest.clock import correct_clocks, retention_cutoffs
from exos_ingest.flatten import Flattened
from exos_ingest.limits import Limits

S = 1_000_000_000
DAY = 86_400 * S
HOUR = 3600 * S
NOW = 1_764_307_210 * S  # 05:20:10 UTC on its day (clock tests need no real date)
LIMITS = Limits()  # tolerance 300 s, retention 30 days everywhere


def span(ts: int, *, session: str = "s1", duration: int = 0, span_id: str = "a" * 16) -> SpanRecord:
    return SpanRecord(session, ts, "f" * 32, span_id, "click", "web", duration_ns=duration)


def log(ts: int, *, session: str = "s1") -> LogRecord:
    return LogRecord(session, ts, "web")


def corrected(records: list, received: int = 1) -> Flattened:
    flat = Flattened(records=list(records), received=received)
    correct_clocks(flat, NOW, LIMITS)
    return flat


def test_a_session_40_days_behind_is_shifted_to_now_keeping_its_order() -> None:
    first = span(NOW - 40 * DAY - 2 * S, duration=1 * S)  # ends 40 d + 1 s ago
    second = span(NOW - 40 * DAY - 10 * S, span_id="b" * 16)  # ends 40 d + 10 s ago
    flat = corrected([first, second], received=2)
    # median_low of the end times is the older one (40 d + 10 s): the skew.
    assert [r.timestamp_ns for r in flat.records] == [NOW + 8 * S, NOW]
    assert flat.corrected == {"clock_behind": 2}
    assert not flat.rejected


def test_a_session_two_hours_ahead_is_shifted_back() -> None:
    ahead = span(NOW + 2 * HOUR)
    written = log(NOW + 2 * HOUR - 3 * S)
    flat = corrected([ahead, written], received=2)
    # median_low of [now+2h-3s, now+2h] is now+2h-3s: the skew is 2 h - 3 s.
    assert [r.timestamp_ns for r in flat.records] == [NOW + 3 * S, NOW]
    assert flat.corrected == {"clock_ahead": 2}


def test_a_session_a_few_hours_behind_is_left_alone() -> None:
    # A tab that slept: old spans, but the tables keep them. No shift.
    flat = corrected([span(NOW - 5 * HOUR)])
    assert flat.records[0].timestamp_ns == NOW - 5 * HOUR
    assert not flat.corrected and not flat.rejected


def test_future_within_the_tolerance_is_kept_beyond_it_clamped() -> None:
    near, far = span(NOW + 299 * S, session=""), span(NOW + 301 * S, session="")
    flat = corrected([near, far], received=2)
    assert [r.timestamp_ns for r in flat.records] == [NOW + 299 * S, NOW]
    assert flat.corrected == {"future_clamped": 1}


def test_records_without_a_session_are_never_shifted_old_ones_are_dropped() -> None:
    old = log(NOW - 40 * DAY, session="")
    fresh = log(NOW - 1 * S, session="")
    flat = corrected([old, fresh], received=2)
    assert flat.records == [fresh]
    assert flat.rejected == {"expired": 1}
    assert flat.rejection_message("log records").startswith("1 of 2 log records rejected")


def test_one_absurd_timestamp_does_not_drag_its_session() -> None:
    hostile = span((1 << 64) - 1, span_id="c" * 16)
    normal = [span(NOW - 2 * S), span(NOW - 1 * S, span_id="b" * 16)]
    flat = corrected([hostile, *normal], received=3)
    # median_low of [now-2s, now-1s] (2^64-1 is out of range, ignored): no skew.
    assert [r.timestamp_ns for r in flat.records] == [NOW, NOW - 2 * S, NOW - 1 * S]
    assert flat.corrected == {"future_clamped": 1}


def test_retention_cutoffs_follow_each_tables_ttl() -> None:
    cutoffs = retention_cutoffs(NOW, LIMITS)
    # NOW + 1 h margin is 06:20:10 UTC; that day starts at 1_764_288_000 s.
    # otel_traces ages by day: the oldest day kept is 29 days before.
    assert cutoffs[SpanRecord] == (1_764_288_000 - 29 * 86_400) * S
    # otel_logs / hyperdx_sessions age by the second: 30 days before now + 1 h.
    assert cutoffs[ReplayChunk] == cutoffs[object] == NOW + HOUR - 30 * DAY


def test_a_span_on_the_last_kept_day_stays_one_before_it_goes() -> None:
    first_kept = (1_764_288_000 - 29 * 86_400) * S
    kept, gone = span(first_kept, session=""), span(first_kept - 1, session="", span_id="b" * 16)
    flat = corrected([kept, gone], received=2)
    assert flat.records == [kept]
    assert flat.rejected == {"expired": 1}


def test_a_console_error_span_and_its_log_are_one_rejection() -> None:
    old = NOW - 40 * DAY
    error_span = span(old, session="")
    error_log = LogRecord("", old, "web", trace_id="f" * 32, span_id="a" * 16)
    flat = corrected([error_span, error_log], received=1)
    assert flat.records == []
    assert flat.rejected == {"expired": 1}
    assert flat.rejected_count == 1


def test_events_move_with_their_span_and_never_leave_the_column_range() -> None:
    shifted = span(NOW + 2 * HOUR)
    shifted.events = [SpanEvent(NOW + 2 * HOUR + 5 * S, "ok"), SpanEvent(1, "bogus")]
    flat = corrected([shifted])
    (record,) = flat.records
    assert record.timestamp_ns == NOW
    # The second event would land before 1970 after the shift: it takes the span's time.
    assert [e.timestamp_ns for e in record.events] == [NOW + 5 * S, NOW]
    assert flat.corrected == {"clock_ahead": 1, "event_time": 1}


def test_replay_chunks_are_judged_by_the_sessions_table() -> None:
    limits = Limits(retention_sessions_days=1)
    chunk = ReplayChunk("", NOW - 2 * DAY, "web")
    flat = Flattened(records=[chunk], received=1)
    correct_clocks(flat, NOW, limits)
    assert flat.records == [] and flat.rejected == {"expired": 1}
